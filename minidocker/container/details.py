"""What `inspect`, `top` and `stats` show of a container."""
import json
import os

from minidocker.container import record as _record, status as _status


def inspect_container(record: dict) -> dict:
    """Docker's ContainerInspect shape, from the record (refreshed by the caller)."""
    config, state = record["Config"], record["State"]
    directory = _record.directory(record)
    defaults = {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
                "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": "", "FinishedAt": ""}
    full_state = {**defaults, **state}
    for key in ("StartedAt", "FinishedAt"):
        full_state[key] = full_state[key] or "0001-01-01T00:00:00Z"
    host = dict(record["HostConfig"])
    host.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
    host.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
    return {"Id": record["ID"], "Created": record["Created"], "Path": config["Cmd"][0], "Args": config["Cmd"][1:],
            "State": full_state, "Image": record["Image"], "LogPath": str(_status.log_path(record["ID"])),
            "Name": record["Name"], "RestartCount": record.get("RestartCount", 0), "Driver": "overlay",
            "Platform": "linux", "HostConfig": host,
            "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": str(directory / "upper"),
                                                        "WorkDir": str(directory / "work"),
                                                        "MergedDir": str(directory / "bundle/rootfs")}},
            "Mounts": [{k: v for k, v in m.items() if k != "Copy"} for m in record.get("Mounts") or []],
            "Config": {k: v for k, v in config.items() if k != "EnvOverrides"}}


def inspect(names, format=None) -> str:
    """`inspect`: containers by name or ID, else images (Docker looks for either)."""
    from minidocker.container import lifecycle
    from minidocker.container.record import ContainerError
    from minidocker.image import details, format as fmt
    objects = []
    for name in names:
        try:
            objects.append(inspect_container(lifecycle.find(name)))
        except ContainerError as missing:
            try:
                objects.append({k: v for k, v in details.inspect_image(name).items() if v is not None})
            except Exception:
                raise ContainerError(f"No such object: {name}") from missing
    if format:
        return "".join(fmt.render(format.replace("\\t", "\t").replace("\\n", "\n"), o) + "\n" for o in objects)
    return json.dumps(objects, indent=4, ensure_ascii=False) + "\n"


def _cgroup(record: dict):
    from minidocker.runtime import cgroups, state
    st = state.load(_record.runtime_root(), record["ID"])
    return cgroups.lookup(st.cgroup["path"])


def top(record: dict, ps_args=None) -> str:
    """Docker's top: the host's `ps` (default -ef), only the rows of the container's processes."""
    import subprocess
    from minidocker.container.record import ContainerError
    if record["State"]["Status"] not in ("running", "paused"):
        raise ContainerError(f"Container {record['ID']} is not running")
    pids = set(_cgroup(record).pids())
    lines = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=True).stdout.splitlines()
    column = lines[0].split().index("PID")
    rows = [lines[0]] + [line for line in lines[1:] if int(line.split()[column]) in pids]
    return "\n".join(rows) + "\n"


def binary_size(size: float) -> str:
    """go-units BytesSize, as `stats` prints memory: 1.5MiB."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{units[i]}"


def stats_row(record: dict, interval: float = 0.5) -> list:
    """One row of `stats --no-stream`: CPU % over `interval`, memory, PIDs."""
    import time
    cgroup = _cgroup(record)
    before, started = cgroup.stats(), time.monotonic()
    time.sleep(interval)
    after = cgroup.stats()
    cpu = (after.cpu_usage_ns - before.cpu_usage_ns) / ((time.monotonic() - started) * 1e9) * 100
    limit = ((record["HostConfig"].get("Resources") or {}).get("memory") or {}).get("limit") \
        or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return [record["ID"][:12], record["Name"].lstrip("/"), f"{cpu:.2f}%",
            f"{binary_size(after.memory_usage)} / {binary_size(limit)}",
            f"{after.memory_usage / limit * 100:.2f}%", "0B / 0B", "0B / 0B", str(after.pids)]
