"""A container's live state beside its record: the supervisor's pid, its control socket, the
log, and `refresh`, which makes the record tell the truth after a crash."""
import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

from minidocker import paths
from minidocker.container import record as _record
from minidocker.container.record import ContainerError
from minidocker.runtime import state as runtime_state


def run_dir(container_id: str) -> Path:
    """Where the supervisor keeps its pid and control socket (like /run/docker/containerd/<id>)."""
    return paths.run_root() / "containers" / container_id


def log_path(container_id: str) -> Path:
    """Docker's json-file log: <id>-json.log in the container's directory."""
    return _record.containers_dir() / container_id / f"{container_id}-json.log"


@contextlib.contextmanager
def locked(container_id: str):
    """The record's lock: the CLI and the supervisor both update State."""
    path = _record.containers_dir() / container_id / ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise ContainerError(f"No such container: {container_id}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(container_id: str) -> dict:
    try:
        return json.loads((_record.containers_dir() / container_id / "config.json").read_text())
    except (FileNotFoundError, ValueError):
        raise ContainerError(f"No such container: {container_id}") from None


def update(container_id: str, top: dict | None = None, **state) -> dict:
    """Change State fields (and top-level ones) of a record under its lock; return it."""
    with locked(container_id):
        record = load(container_id)
        record["State"].update(state)
        record.update(top or {})
        with contextlib.suppress(FileNotFoundError):     # removed meanwhile
            _record.save(record)
        return record


def supervisor_pid(container_id: str):
    """(pid, start time) of the container's supervisor, or None when it never had one."""
    try:
        pid, start = (run_dir(container_id) / "supervisor.pid").read_text().split()
        return int(pid), int(start)
    except (OSError, ValueError):
        return None


def supervised(container_id: str) -> bool:
    found = supervisor_pid(container_id)
    return bool(found) and runtime_state.alive(*found)


def control(container_id: str, request: str) -> socket.socket:
    """Connect to the supervisor's control socket and send one request line. The socket's path
    can be longer than a sockaddr holds, so it is reached through /proc/self/fd."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        directory = os.open(run_dir(container_id), os.O_PATH | os.O_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{directory}/control.sock")
        finally:
            os.close(directory)
        sock.sendall(request.encode() + b"\n")
    except OSError:
        sock.close()
        raise ContainerError(f"container {container_id[:12]}: its supervisor is gone") from None
    return sock


def ask(container_id: str, request: str) -> str:
    """One request, one reply line ("ok" or "error CODE message")."""
    with control(container_id, request) as sock:
        reply = sock.makefile("rb").readline().decode().strip()
    word, _, rest = reply.partition(" ")
    if word != "ok":
        code, _, message = rest.partition(" ")
        error = ContainerError(message or "the supervisor did not answer")
        error.exit_code = int(code) if code.isdigit() else 125
        raise error
    return rest


def release(container_id: str):
    """Undo what a supervised run holds on the host: the runtime's container (its processes and
    cgroup), the rootfs mount, the supervisor's directory. Safe to repeat."""
    from minidocker.container import layer
    from minidocker.runtime import commands as runtime, pause
    with contextlib.suppress(Exception):     # a frozen init cannot die: thaw it first
        pause.resume(_record.runtime_root(), container_id)
    with contextlib.suppress(runtime_state.ContainerNotFound):
        runtime.delete(_record.runtime_root(), container_id, force=True)
    layer.unmount_rootfs(_record.containers_dir() / container_id)
    directory = run_dir(container_id)
    for name in ("supervisor.pid", "control.sock"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()


def refresh(record: dict) -> dict:
    """The record, true after a crash: a container whose supervisor vanished is Exited (its
    orphaned processes are killed: nobody holds their output any more) — never running forever."""
    found = supervisor_pid(record["ID"])
    if found is None or runtime_state.alive(*found):
        return record
    with locked(record["ID"]):
        record = load(record["ID"])
        state = record["State"]
        if supervisor_pid(record["ID"]) == found:
            release(record["ID"])
            if state["Status"] != "created":
                state.update(Status="exited", Running=False, Paused=False, Restarting=False, Pid=0,
                             ExitCode=state.get("ExitCode") or 137, FinishedAt=_record.now())
            with contextlib.suppress(FileNotFoundError):
                _record.save(record)
    return record
