"""Named and anonymous volumes: state_root()/volumes/NAME/_data, with NAME/volume.json beside it.

A volume is a directory that a container's writes reach without passing through its container
layer, so it outlives the container (seed §3: keep the container layer stateless)."""
import contextlib
import fcntl
import json
import os
import re
import shutil
from pathlib import Path

from minidocker import paths
from minidocker.container import record as _record
from minidocker.errors import MinidockerError

VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ANONYMOUS = "com.docker.volume.anonymous"          # Docker 23's label for anonymous volumes


class VolumeError(MinidockerError):
    """A volume could not be made, found or removed."""


def volumes_dir() -> Path:
    return paths.state_root() / "volumes"


@contextlib.contextmanager
def locked():
    volumes_dir().mkdir(parents=True, exist_ok=True, mode=0o701)
    with open(volumes_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load(name: str) -> dict:
    if not VALID_NAME.match(name or ""):
        raise VolumeError(f"get {name}: no such volume")
    try:
        return json.loads((volumes_dir() / name / "volume.json").read_text())
    except (FileNotFoundError, ValueError):
        raise VolumeError(f"get {name}: no such volume") from None


def all_volumes() -> list:
    found = []
    for path in sorted(volumes_dir().glob("*/volume.json")):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found


def create(name: str | None = None, labels: dict | None = None) -> dict:
    """Docker's volume create: a new volume, or the existing one of that name; no name: anonymous."""
    if name is not None and not VALID_NAME.match(name):
        raise VolumeError(f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                          f'"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                          "use absolute path")
    labels = dict(labels or {})
    if name is None:
        name, labels[ANONYMOUS] = os.urandom(32).hex(), ""
    with locked():
        directory = volumes_dir() / name
        with contextlib.suppress(VolumeError):
            return load(name)
        tmp = volumes_dir() / f".{name}.new"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "_data").mkdir(parents=True)
        os.chmod(tmp, 0o701)
        volume = {"CreatedAt": _record.now(), "Driver": "local", "Labels": labels or None,
                  "Mountpoint": str(directory / "_data"), "Name": name, "Options": None, "Scope": "local"}
        _record.write_atomically(tmp / "volume.json", volume)
        os.rename(tmp, directory)            # all or nothing: a volume appears complete
    return volume


def users(name: str) -> list:
    """IDs of the containers (running or not) whose mounts name this volume."""
    return [r["ID"] for r in _record.all_records()
            if any(m.get("Type") == "volume" and m.get("Name") == name for m in r.get("Mounts") or [])]


def remove(name: str, force: bool = False):
    """Docker's volume rm: a volume in use by any container stays."""
    with locked():
        try:
            load(name)
        except VolumeError:
            if force:
                return
            raise
        using = users(name)
        if using:
            raise VolumeError(f"remove {name}: volume is in use - [{', '.join(using)}]")
        _delete(name)


def _delete(name: str):
    doomed = volumes_dir() / f".{name}.removing"      # gone from every listing at once
    os.rename(volumes_dir() / name, doomed)
    shutil.rmtree(doomed)


def anonymous(volume: dict) -> bool:
    return ANONYMOUS in (volume.get("Labels") or {})


def remove_anonymous(record: dict):
    """`rm -v` (and --rm): the container's anonymous volumes go with it, if no one else uses them."""
    for mount in record.get("Mounts") or []:
        if mount.get("Type") != "volume":
            continue
        with contextlib.suppress(VolumeError):
            with locked():
                if anonymous(load(mount["Name"])) and set(users(mount["Name"])) <= {record["ID"]}:
                    _delete(mount["Name"])


def directory_size(path) -> int:
    """Bytes of the files under `path` (a volume, or a container layer)."""
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def prune(everything: bool = False) -> tuple:
    """Docker's volume prune: unused anonymous volumes (with -a, unused named ones too)."""
    removed, reclaimed = [], 0
    for volume in all_volumes():
        if (everything or anonymous(volume)) and not users(volume["Name"]):
            reclaimed += directory_size(volume["Mountpoint"])
            with contextlib.suppress(VolumeError):
                remove(volume["Name"])
                removed.append(volume["Name"])
    return removed, reclaimed
