"""The container lifecycle on top of `container.run.create`: a supervisor per container, and
Docker's verbs — create, start, stop, kill, restart, pause, unpause, wait, rm, prune.

Every verb first `refresh`es the record, so a container whose supervisor vanished is Exited."""
import os
import select
import sys
import time

from minidocker.container import layer, record as _record, status as _status
from minidocker.container.listing import find as _find
from minidocker.container.record import ContainerError
from minidocker.container.run import RunOptions, create as _create_bundle
from minidocker.runtime import commands as runtime, pause as _pause

ACTIVE = ("running", "paused", "restarting")
SUPERVISOR = "import sys; from minidocker.container.supervisor import main; main(sys.argv[1:])"


def find(text: str) -> dict:
    """A container by name, ID or unique prefix, its record made true (see status.refresh)."""
    return _status.refresh(_find(text))


def spawn_supervisor(container_id: str, mode: str):
    """Start the container's supervisor in a session of its own, double-forked so that nothing
    we do (exit, Ctrl-C, a closed terminal) reaches it; wait until it has created (and, with
    mode "start", started) the container, and raise its error if it could not."""
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.set_inheritable(ready_w, True)
                os.execv(sys.executable, [sys.executable, "-c", SUPERVISOR, container_id, str(ready_w), mode])
        finally:
            os._exit(0)
    os.close(ready_w)
    os.waitpid(child, 0)
    with os.fdopen(ready_r, "rb") as ready:       # one line: the container's init holds a copy until it execs
        reply = ready.readline().decode().strip()
    if reply != "ok":
        code, _, message = reply.partition(" ")[2].partition(" ")
        error = ContainerError(message or "the supervisor died while creating the container")
        error.exit_code = int(code) if code.isdigit() else 125
        raise error


def create(image: str, options: RunOptions, extras=None) -> dict:
    """Docker's create: the record, rootfs and bundle (container.run.create), then `extras` —
    functions (spec, record) -> None that add volumes, a restart policy, an init — and a
    supervisor holding the created container until `start`."""
    record = _create_bundle(image, options)
    try:
        if extras:
            edit_bundle(record, extras)
        spawn_supervisor(record["ID"], "create")
    except BaseException:
        remove_record(record)
        raise
    return _status.load(record["ID"])


def edit_bundle(record: dict, extras):
    """Apply `extras` to the bundle's config.json and the record, and save both."""
    import json
    path = _record.directory(record) / "bundle/config.json"
    spec = json.loads(path.read_text())
    for extra in extras:
        extra(spec, record)
    path.write_text(json.dumps(spec, indent=1))
    _record.save(record)


def run_detached(image: str, options: RunOptions, extras=None) -> str:
    """`run -d`: create and start; the container's full ID."""
    record = create(image, options, extras)
    start(record["ID"])
    return record["ID"]


def mount_again(record: dict):
    """A stopped container's rootfs was unmounted by its supervisor: mount it for a new run."""
    from minidocker.image.store import Store
    directory = _record.directory(record)
    if not os.path.ismount(directory / "bundle/rootfs"):
        layer.mount_rootfs(Store(), record["Image"], directory)


def prepare(record: dict):
    """Make sure a supervisor holds the container created and waiting for start."""
    if _status.supervised(record["ID"]):
        return
    mount_again(record)
    try:
        spawn_supervisor(record["ID"], "create")
    except BaseException:
        _status.release(record["ID"])
        raise


def start(text: str) -> dict:
    """Docker's start: a running container is left alone; a paused one is refused."""
    record = find(text)
    status = record["State"]["Status"]
    if status == "paused":
        raise ContainerError("cannot start a paused container, try unpause instead")
    if status in ("running", "restarting"):
        return record
    prepare(record)
    _status.ask(record["ID"], "start")
    return _status.load(record["ID"])


def wait_for_supervisor(container_id: str, timeout: float | None = None) -> bool:
    """Block until the container's supervisor has ended (a pidfd: no polling, no race)."""
    found = _status.supervisor_pid(container_id)
    if not found:
        return True
    try:
        fd = os.pidfd_open(found[0])
    except ProcessLookupError:
        return True
    try:
        if not _status.supervised(container_id):     # the pid was reused meanwhile
            return True
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def stop_signal(record: dict, given=None) -> str:
    return given or record["Config"].get("StopSignal") or "SIGTERM"


def stop(text: str, timeout: float | None = None, sig: str | None = None) -> dict:
    """Docker's stop: the image's StopSignal (or SIGTERM), `timeout` seconds (default 10), then
    SIGKILL. Stopping a stopped container is no error."""
    record = find(text)
    if record["State"]["Status"] not in ACTIVE or not _status.supervised(record["ID"]):
        return record
    grace = 10 if timeout is None else timeout
    runtime.parse_signal(stop_signal(record, sig))
    _status.ask(record["ID"], f"stop {stop_signal(record, sig)} {grace}")
    wait_for_supervisor(record["ID"], None if grace < 0 else grace + 30)
    return find(record["ID"])


def restart(text: str, timeout: float | None = None, sig: str | None = None) -> dict:
    """Docker's restart: stop then start — by the same supervisor, so that `logs -f` goes on."""
    record = find(text)
    if record["State"]["Status"] not in ACTIVE or not _status.supervised(record["ID"]):
        return start(record["ID"])
    before = record["State"]["StartedAt"]
    _status.ask(record["ID"], f"restart {stop_signal(record, sig)} {10 if timeout is None else timeout}")
    while True:
        record = find(record["ID"])
        state = record["State"]
        if state["Status"] == "running" and state["StartedAt"] != before or state["Status"] == "exited":
            return record
        time.sleep(0.02)


def not_running(record: dict) -> ContainerError:
    return ContainerError(f"Container {record['ID']} is not running")


def kill(text: str, sig: str = "KILL") -> dict:
    """Docker's kill: a signal (SIGKILL by default) to the container's main process."""
    record = find(text)
    number = runtime.parse_signal(sig)
    if record["State"]["Status"] not in ("running", "paused"):
        raise ContainerError(f"Cannot kill container: {text}: {not_running(record)}")
    runtime.kill(_record.runtime_root(), record["ID"], str(number))
    return record


def pause(text: str) -> dict:
    """Docker's pause: the cgroup freezer stops every process of the container."""
    record = find(text)
    status = record["State"]["Status"]
    if status == "paused":
        raise ContainerError(f"Container {record['ID']} is already paused")
    if status != "running":
        raise not_running(record)
    _pause.pause(_record.runtime_root(), record["ID"])
    return _status.update(record["ID"], Status="paused", Paused=True)


def unpause(text: str) -> dict:
    record = find(text)
    if record["State"]["Status"] != "paused":
        raise ContainerError(f"Container {record['ID']} is not paused")
    _pause.resume(_record.runtime_root(), record["ID"])
    return _status.update(record["ID"], Status="running", Paused=False)


def wait(text: str) -> int:
    """Docker's wait: block until the container stops; its exit code."""
    record = find(text)
    wait_for_supervisor(record["ID"])
    return find(record["ID"])["State"]["ExitCode"]


def remove_record(record: dict, volumes: bool = False):
    """The supervisor (and so the container) ended, the host released, the record gone."""
    from minidocker.volume import store as volume_store
    if _status.supervised(record["ID"]):
        try:
            _status.ask(record["ID"], "stop SIGKILL 0")
        except ContainerError:
            pass
        wait_for_supervisor(record["ID"], 30)
    _status.release(record["ID"])
    if volumes:
        volume_store.remove_anonymous(record)
    _record.remove(record)


def remove(text: str, force: bool = False, volumes: bool = False) -> dict:
    """Docker's rm [-f] [-v]: refuse a running container unless forced."""
    record = find(text)
    if record["State"]["Status"] in ACTIVE and not force:
        if record["State"]["Status"] == "paused":
            raise ContainerError(f'cannot remove container "{record["Name"]}": container is paused and must '
                                 "be unpaused first")
        raise ContainerError(f'cannot remove container "{record["Name"]}": container is running: '
                             "stop the container before removing or force remove")
    remove_record(record, volumes)
    return record


def prune() -> tuple:
    """Docker's container prune: every stopped container; (IDs removed, bytes reclaimed)."""
    from minidocker.volume import store as volume_store
    removed, reclaimed = [], 0
    for record in _record.all_records():
        record = _status.refresh(record)
        if record["State"]["Status"] in ACTIVE:
            continue
        reclaimed += volume_store.directory_size(_record.directory(record) / "upper")
        remove_record(record)
        removed.append(record["ID"])
    return removed, reclaimed



def start_attached(text: str, stdin: bool) -> int:
    """`start -a [-i]`: attach first, then start, so that no output is missed; the exit code."""
    from minidocker.container import attach
    record = find(text)
    if record["State"]["Status"] in ACTIVE:
        return attach_to(record["ID"], stdin)
    prepare(record)
    tty = bool(record["Config"].get("Tty"))
    sock = attach.connect(record["ID"], stdin and bool(record["Config"].get("OpenStdin")))
    with sock:
        _status.ask(record["ID"], "start")
        if tty:
            attach.window_size(record["ID"])
        if not attach.relay(sock, tty, stdin):
            return 0
    return wait(record["ID"])


def attach_to(text: str, stdin: bool = True) -> int:
    """Docker's attach: this terminal to a running container, until it ends or Ctrl-P Ctrl-Q."""
    from minidocker.container import attach
    record = find(text)
    if record["State"]["Status"] == "paused":
        raise ContainerError("You cannot attach to a paused container, unpause it first")
    if record["State"]["Status"] not in ACTIVE:
        raise ContainerError("You cannot attach to a stopped container, start it first")
    tty = bool(record["Config"].get("Tty"))
    with attach.connect(record["ID"], stdin and bool(record["Config"].get("OpenStdin"))) as sock:
        if not attach.relay(sock, tty, stdin and bool(record["Config"].get("OpenStdin"))):
            return 0
    return wait(record["ID"])


def exec_in(text: str, command: list, detach=False, tty=False, env=None, user=None, workdir=None) -> int:
    """Docker's exec: the container's own process settings (capabilities, no_new_privs, seccomp
    come from its bundle) with this command, environment, user and working directory."""
    import json
    from minidocker.container.bundle import resolve_user
    from minidocker.runtime import exec as runtime_exec
    record = find(text)
    status = record["State"]["Status"]
    if status == "paused":
        raise ContainerError(f"Container {record['ID']} is paused, unpause the container before exec")
    if status != "running":
        raise not_running(record)
    bundle = _record.directory(record) / "bundle"
    process = json.loads((bundle / "config.json").read_text())["process"]
    variables = dict(item.partition("=")[::2] for item in process["env"])
    variables.update(env or {})
    process.update(args=command, terminal=tty, env=[f"{k}={v}" for k, v in variables.items()],
                   cwd=workdir or process["cwd"])
    if user:
        found = resolve_user(bundle / "rootfs", user)
        process["user"] = {"uid": found["uid"], "gid": found["gid"]}
    if not tty or detach:
        return runtime_exec.exec_process(_record.runtime_root(), record["ID"], {**process, "terminal": False}
                                         if detach else process, detach)
    import socket
    from minidocker.runtime import console
    from minidocker.runtime.commands import _proxy_terminal
    ours, theirs = socket.socketpair()
    with ours:
        with theirs:
            pid = runtime_exec.spawn(_record.runtime_root(), record["ID"], process, console_fd=theirs.fileno())
        master = console.receive_master(ours)
    _proxy_terminal(master)
    return runtime_exec.wait(pid)
