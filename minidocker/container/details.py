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
