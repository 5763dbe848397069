"""`-v` and `--mount`: Docker's two spellings of a mount, parsed into Docker's MountPoint, then
turned into volumes on disk and the OCI bundle's mounts.

    -v NAME:/path[:ro]   -v /host:/path[:ro]   -v /path (anonymous)
    --mount type=volume|bind|tmpfs,source=…,target=…[,readonly][,volume-nocopy]
"""
import os
import shutil

from minidocker.errors import MinidockerError
from minidocker.volume import store

MODES = {"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate"}


class MountSpecError(MinidockerError):
    """A -v or --mount that Docker would refuse."""


def mount_point(kind, source, target, readonly=False, copy=True, mode="") -> dict:
    return {"Type": kind, "Name": source if kind == "volume" else "", "Source": source, "Destination": target,
            "Mode": mode, "RW": not readonly, "Propagation": "rprivate" if kind == "bind" else "", "Copy": copy}


def parse_volume(spec: str) -> dict:
    """Docker's -v: [SOURCE:]TARGET[:MODE]; a SOURCE starting with / is a bind, else a volume name."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or not all(parts):
        raise MountSpecError(f"invalid volume specification: '{spec}'")
    mode = parts.pop() if len(parts) > 1 and set(parts[-1].split(",")) <= MODES and not parts[-1].startswith("/") \
        else ""
    if len(parts) > 2 or (mode and not parts):
        raise MountSpecError(f"invalid volume specification: '{spec}'")
    source, target = (None, parts[0]) if len(parts) == 1 else parts
    if not target.startswith("/"):
        raise MountSpecError(f"invalid volume specification: '{spec}': invalid mount config for type "
                             f'"{"bind" if source and source.startswith("/") else "volume"}": invalid mount path: '
                             f"'{target}' mount path must be absolute")
    if target == "/":
        raise MountSpecError(f"invalid volume specification: '{spec}': invalid mount config: destination can't be '/'")
    modes = set(mode.split(",")) if mode else set()
    if source and source.startswith("/"):
        return mount_point("bind", os.path.normpath(source), os.path.normpath(target), "ro" in modes, mode=mode)
    if source and not store.VALID_NAME.match(source):
        raise MountSpecError(f'create {source}: "{source}" includes invalid characters for a local volume name, '
                             'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                             "directory, use absolute path")
    return mount_point("volume", source or "", os.path.normpath(target), "ro" in modes, "nocopy" not in modes, mode)


def parse_mount(spec: str) -> dict:
    """Docker's --mount, comma-separated key=value fields."""
    fields = {}
    for item in spec.split(","):
        key, has_value, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro", "volume-nocopy") and not has_value:
            value = "true"
        elif not has_value:
            raise MountSpecError(f'invalid argument "{spec}" for "--mount" flag: invalid field \'{item}\' '
                                 "must be a key=value pair")
        fields[key] = value
    kind = fields.pop("type", "volume")
    source = fields.pop("source", fields.pop("src", ""))
    target = fields.pop("target", fields.pop("destination", fields.pop("dst", "")))
    readonly = fields.pop("readonly", fields.pop("ro", "false")).lower() in ("1", "true")
    copy = fields.pop("volume-nocopy", "false").lower() not in ("1", "true")
    fields.pop("bind-propagation", None)
    unknown = next(iter(fields), None)
    if kind not in ("bind", "volume", "tmpfs"):
        raise MountSpecError(f'invalid argument "{spec}" for "--mount" flag: invalid type \'{kind}\'')
    if unknown:
        raise MountSpecError(f'invalid argument "{spec}" for "--mount" flag: unexpected key \'{unknown}\' in \'{spec}\'')
    if not target:
        raise MountSpecError(f'invalid mount config for type "{kind}": field Target must not be empty')
    if not target.startswith("/"):
        raise MountSpecError(f'invalid mount config for type "{kind}": invalid mount path: \'{target}\' '
                             "mount path must be absolute")
    if kind == "bind":
        if not source:
            raise MountSpecError('invalid mount config for type "bind": field Source must not be empty')
        if not os.path.exists(source):
            raise MountSpecError(f'invalid mount config for type "bind": bind source path does not exist: {source}')
    if kind == "tmpfs" and source:
        raise MountSpecError('invalid mount config for type "tmpfs": field Source must not be specified')
    return mount_point(kind, source, os.path.normpath(target), readonly, copy)


def with_image_volumes(points: list, image_volumes) -> list:
    """The image's VOLUMEs become anonymous volumes, unless a -v or --mount covers them."""
    taken = {p["Destination"] for p in points}
    return points + [mount_point("volume", "", os.path.normpath(path)) for path in image_volumes or {}
                     if os.path.normpath(path) not in taken]


def seed(volume: dict, rootfs, target: str):
    """Docker copies the image's files at the mount point into an empty volume. The mount point
    is resolved inside the container's root (openat2): an image's symlink never leads out."""
    from minidocker.runtime import inroot
    data = volume["Mountpoint"]
    if any(os.scandir(data)):
        return
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        source = inroot.open_in_root(root, target, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return                                # nothing (or no directory) there in the image
    finally:
        os.close(root)
    try:
        shutil.copytree(f"/proc/self/fd/{source}", data, symlinks=True, dirs_exist_ok=True)
        shutil.copystat(f"/proc/self/fd/{source}", data)
    finally:
        os.close(source)


def prepare(points: list, rootfs) -> list:
    """Make what the mount points need (volumes, -v host directories), seed new volumes, and
    return the OCI mounts. The runtime resolves each destination inside the container's root."""
    mounts = []
    for point in points:
        options = ["rbind", "rprivate"] + (["ro"] if not point["RW"] else [])
        if point["Type"] == "volume":
            volume = store.create(point["Name"] or None)
            point.update(Name=volume["Name"], Source=volume["Mountpoint"], Driver="local")
            if point.pop("Copy", True):
                seed(volume, rootfs, point["Destination"])
        elif point["Type"] == "bind":
            point.pop("Copy", None)
            os.makedirs(point["Source"], exist_ok=True)          # -v creates it; --mount checked it exists
        else:
            point.pop("Copy", None)
            mounts.append({"destination": point["Destination"], "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "noexec"] + (["ro"] if not point["RW"] else [])})
            continue
        mounts.append({"destination": point["Destination"], "type": "bind", "source": point["Source"],
                       "options": options})
    return mounts


def volumes_extra(points: list):
    """An edit of a new container's bundle and record (container.lifecycle.create's extras)."""
    def apply(spec: dict, record: dict):
        from minidocker.container import record as _record
        from minidocker.image.store import Store
        image_volumes = (Store().config(record["Image"]).get("config") or {}).get("Volumes")
        found = with_image_volumes([dict(p) for p in points], image_volumes)
        record["Mounts"] = found                         # before any volume exists: rm -v finds them
        spec["mounts"].extend(prepare(found, _record.directory(record) / "bundle/rootfs"))
        record["HostConfig"]["Binds"] = [f"{p['Source']}:{p['Destination']}" + ("" if p["RW"] else ":ro")
                                         for p in found if p["Type"] == "bind"] or None
    return apply
