"""The per-container supervisor — conmon's (podman) or containerd-shim's (Docker) job.

One small process per container, started by `create`/`run -d`, that outlives the command which
started it (a new session, double-forked, stdio detached). It is the container's parent (child
subreaper), creates and starts it through the runtime, holds its stdio or terminal, writes the
json-file log, reaps it, records the exit (status, FinishedAt, OOM kill), serves `attach` and
the lifecycle verbs on a control socket, and applies the restart policy.
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from minidocker.container import record as _record, status as _status
from minidocker.errors import MinidockerError
from minidocker.runtime import commands as runtime, console, libc, state as runtime_state

LINE_MAX = 16 * 1024                    # Docker splits longer lines into 16 KiB partial entries
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET = 0.1, 60.0, 10.0   # Docker's restart manager
DRAIN = 2.0                             # seconds to collect output after the init exited
STREAMS = {"stdout": 1, "stderr": 2}


def log_entry(data: bytes, stream: str) -> bytes:
    """One line of Docker's json-file log."""
    return (json.dumps({"log": data.decode(errors="replace"), "stream": stream, "time": _record.now()})
            + "\n").encode()


def frame(stream: str, data: bytes) -> bytes:
    """Docker's attach framing without a terminal (stdcopy): stream, 3 zero bytes, length."""
    return struct.pack(">BxxxI", STREAMS[stream], len(data)) + data


def exit_code(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class Supervisor:
    """The container's parent for as long as it lives, restarts included."""

    def __init__(self, container_id: str):
        record = _status.load(container_id)
        self.id, self.root = container_id, _record.runtime_root()
        self.bundle = _record.containers_dir() / container_id / "bundle"
        self.tty, self.open_stdin = bool(record["Config"].get("Tty")), bool(record["Config"].get("OpenStdin"))
        self.stdin_once = bool(record["Config"].get("StdinOnce"))
        self.policy = record["HostConfig"].get("RestartPolicy") or {"Name": "no"}
        self.restarts, self.delay = record.get("RestartCount", 0), 0.0
        self.log = open(_status.log_path(container_id), "ab", buffering=0)
        self.outputs, self.pending, self.clients = {}, {}, {}   # fd -> stream; stream -> bytes; socket -> stdin?
        self.stdin, self.pid, self.started = None, 0, 0.0
        self.exited = self.drain_until = self.kill_at = self.restart_at = None
        self.stopping = self.restart_now = self.done = False

    def listen(self):
        directory = _status.run_dir(self.id)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory, os.O_PATH | os.O_CLOEXEC)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.server.bind(f"/proc/self/fd/{fd}/control.sock")   # the path may be too long for a sockaddr
        os.close(fd)
        self.server.listen(16)
        start = runtime_state.start_time(os.getpid())
        (directory / "supervisor.pid").write_text(f"{os.getpid()} {start}\n")

    def create(self):
        """The runtime's create, with the container's stdio ours: pipes, or a pty's master."""
        null = os.open(os.devnull, os.O_RDWR)
        ours = theirs = None
        if self.tty:
            ours, theirs = socket.socketpair()
        else:
            if self.open_stdin:
                read_end, self.stdin = os.pipe()
                os.dup2(read_end, 0)
                os.close(read_end)
            for fd, stream in ((1, "stdout"), (2, "stderr")):
                read_end, write_end = os.pipe()
                os.dup2(write_end, fd)
                os.close(write_end)
                self.outputs[read_end] = stream
        try:
            st = runtime.create(self.root, self.id, self.bundle, console_fd=theirs.fileno() if theirs else -1)
        finally:
            for fd in (0, 1, 2):          # the container's ends are its own now
                os.dup2(null, fd)
            os.close(null)
            if theirs:
                theirs.close()
        if ours:
            master = console.receive_master(ours)
            ours.close()
            self.outputs[master] = "stdout"
            self.stdin = os.dup(master) if self.open_stdin else None
        self.pid = st.pid

    def start(self):
        runtime.start(self.root, self.id)
        self.started = time.monotonic()
        _status.update(self.id, Status="running", Running=True, Paused=False, Restarting=False, Pid=self.pid,
                       StartedAt=_record.now(), Error="")

    # -- output: the log and attached clients ---------------------------------------------
    def pump(self, fd: int):
        try:
            data = os.read(fd, 65536)
        except OSError:                   # EIO: the terminal's last user left
            data = b""
        stream = self.outputs[fd]
        if not data:
            self.close_output(fd)
            return
        for client in list(self.clients):
            try:
                client.sendall(data if self.tty else frame(stream, data))
            except OSError:
                self.drop(client)
        lines = (self.pending.pop(stream, b"") + data).split(b"\n")
        rest, entries = lines.pop(), [log_entry(line + b"\n", stream) for line in lines]
        while len(rest) >= LINE_MAX:
            entries.append(log_entry(rest[:LINE_MAX], stream))
            rest = rest[LINE_MAX:]
        self.pending[stream] = rest
        self.log.write(b"".join(entries))

    def close_output(self, fd: int):
        stream = self.outputs.pop(fd)
        os.close(fd)
        data = self.pending.pop(stream, b"")
        if data:                          # a last line without its newline
            self.log.write(log_entry(data, stream))

    def from_client(self, client: socket.socket):
        """Input from an attached client goes to the container's stdin; at its end, the client
        still gets the output (and with StdinOnce, the container sees EOF)."""
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        if data and self.clients[client] and self.stdin is not None:
            os.write(self.stdin, data)
        elif not data:
            if self.clients[client] and self.stdin_once and self.stdin is not None:
                os.close(self.stdin)
                self.stdin = None
            self.clients[client] = None           # read no more from it

    def listening(self) -> list:
        return [client for client, stdin in self.clients.items() if stdin is not None]

    def drop(self, client: socket.socket):
        self.clients.pop(client, None)
        client.close()

    # -- control: one request line per connection -----------------------------------------
    def accept(self):
        conn, _ = self.server.accept()
        conn.settimeout(5)
        line = b""
        try:
            while not line.endswith(b"\n") and len(line) < 4096:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                line += chunk
            words = line.decode().split()
            keep = self.handle(conn, words[0] if words else "", words[1:])
            if not keep:
                conn.sendall(b"ok\n")
        except MinidockerError as error:
            keep = False
            conn.sendall(f"error {error.exit_code} {' '.join(str(error).split())}\n".encode())
        except OSError:
            keep = False
        if not keep:
            conn.close()

    def handle(self, conn, verb: str, args: list) -> bool:
        """Act on a request; True when the connection stays open (an attached client)."""
        if verb == "start":
            self.start()
        elif verb in ("stop", "restart"):
            self.stop(args[0], float(args[1]), restart=verb == "restart")
        elif verb == "attach":
            conn.sendall(b"ok\n")
            conn.settimeout(None)
            self.clients[conn] = args[:1] == ["stdin"]
            return True
        elif verb == "resize" and self.tty:
            import fcntl, termios
            master = next(iter(self.outputs), None)
            if master is not None:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", int(args[0]), int(args[1]), 0, 0))
        elif verb != "resize":
            raise MinidockerError(f"unknown request {verb!r}")
        return False

    def stop(self, sig: str, timeout: float, restart: bool):
        """Docker's stop: the signal, then SIGKILL after `timeout` seconds (never, if negative)."""
        self.stopping, self.restart_now = not restart, restart
        if self.exited is None and self.pid and runtime_state.start_time(self.pid) is not None:
            runtime.kill(self.root, self.id, sig)
            self.thaw()                        # a frozen process cannot act on its signal
            self.kill_at = time.monotonic() + timeout if timeout >= 0 else None
        elif self.restart_at is not None:      # between two runs of a restart policy
            self.restart_at = time.monotonic() if restart else None
            self.done = not restart
            if self.done:
                _status.update(self.id, Status="exited", Running=False, Restarting=False)

    def thaw(self):
        from minidocker.runtime import pause
        if pause.paused(self.root, self.id):
            pause.resume(self.root, self.id)
            _status.update(self.id, Paused=False, Status="running")

    # -- the end of a run, and the restart policy ---------------------------------------------
    def oom_killed(self) -> bool:
        from minidocker.runtime import cgroups
        try:
            path = runtime_state.load(self.root, self.id).cgroup["path"]
            return cgroups.lookup(path).stats().oom_killed
        except (MinidockerError, TypeError, KeyError):
            return False

    def should_restart(self, status: int) -> bool:
        name, most = self.policy.get("Name") or "no", self.policy.get("MaximumRetryCount") or 0
        if self.stopping or name == "no":
            return False
        return name in ("always", "unless-stopped") or (status != 0 and (not most or self.restarts < most))

    def finish_run(self):
        """Record the exit, free the runtime's container, and either restart it or end."""
        for fd in list(self.outputs):
            self.close_output(fd)
        oom, status = self.oom_killed(), self.exited
        runtime.delete(self.root, self.id, force=True)
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None
        restart = self.restart_now or self.should_restart(status)
        if restart and not self.restart_now:
            self.restarts += 1
            ran = time.monotonic() - self.started
            self.delay = BACKOFF_FIRST if ran >= BACKOFF_RESET or not self.delay else min(self.delay * 2, BACKOFF_MAX)
        self.restart_at = time.monotonic() + (0 if self.restart_now else self.delay) if restart else None
        self.exited = self.drain_until = self.kill_at = None
        self.restart_now, self.done = False, not restart
        _status.update(self.id, top={"RestartCount": self.restarts}, Status="restarting" if restart else "exited",
                       Running=restart, Restarting=restart, Paused=False, Pid=0, ExitCode=status, OOMKilled=oom,
                       FinishedAt=_record.now())

    def run_again(self):
        self.restart_at = None
        try:
            self.create()
            self.start()
        except MinidockerError as error:
            self.done = True
            _status.update(self.id, Status="exited", Running=False, Restarting=False, ExitCode=error.exit_code,
                           Error=str(error), FinishedAt=_record.now())

    # -- the loop -----------------------------------------------------------------------------
    def reap(self):
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.exited, self.drain_until = exit_code(wait_status), time.monotonic() + DRAIN

    def timers(self):
        now = time.monotonic()
        if self.kill_at is not None and now >= self.kill_at and self.exited is None:
            self.kill_at = None
            try:
                runtime.kill(self.root, self.id, "SIGKILL", all_processes=True)
            except MinidockerError:
                pass
        if self.exited is not None and (not self.outputs or now >= self.drain_until):
            self.finish_run()
        if self.restart_at is not None and now >= self.restart_at:
            self.run_again()

    def timeout(self):
        deadlines = [t for t in (self.kill_at, self.drain_until, self.restart_at) if t is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def serve(self):
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.reap()                       # a child that died before the handler was in place
        while not self.done:
            ready, _, _ = select.select([wake_r, self.server, *self.outputs, *self.listening()], [], [], self.timeout())
            for source in ready:
                if source == wake_r:
                    os.read(wake_r, 4096)
                elif source is self.server:
                    self.accept()
                elif source in self.outputs:
                    self.pump(source)
                else:
                    self.from_client(source)
            self.reap()
            self.timers()

    def close(self):
        """The container is gone for good: free the host, and with --rm its record too."""
        for client in list(self.clients):
            self.drop(client)
        self.server.close()
        self.log.close()
        _status.release(self.id)
        record = _status.load(self.id)
        if record["HostConfig"].get("AutoRemove"):
            from minidocker.volume import store as volumes
            volumes.remove_anonymous(record)
            _record.remove(record)


def main(argv=None):
    """`python -c 'from minidocker.container.supervisor import main; main()' ID READY_FD create|start`:
    reports "ok" or "error STATUS message" on READY_FD once the container is created (and started)."""
    container_id, ready, mode = argv or sys.argv[1:]
    ready = int(ready)
    os.set_inheritable(ready, False)           # the container must not hold it: the CLI waits for EOF
    os.chdir("/")
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)     # the container's init, orphaned by the runtime, is ours
    supervisor = Supervisor(container_id)
    supervisor.listen()
    try:
        supervisor.create()
        if mode == "start":
            supervisor.start()
    except MinidockerError as error:
        os.write(ready, f"error {error.exit_code} {' '.join(str(error).split())}\n".encode())
        _status.update(container_id, ExitCode=error.exit_code, Error=str(error))
        supervisor.done = True
    else:
        os.write(ready, b"ok\n")
    os.close(ready)
    try:
        supervisor.serve()
    finally:
        supervisor.close()
