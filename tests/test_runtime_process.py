"""The container's process under the OCI runtime (chapter 3): Docker's 126/127 for a command that
cannot run, signals that arrive while `run` is still setting up, and an init that stays out of
reach (non-dumpable, CVE-2019-5736) until it execs the user's program."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minidocker.runtime import libc
from oci_support import default_config, env, make_bundle, runtime, subreaper, with_args  # noqa: F401 (fixtures)
from support import processes, require_root

CAP_SYS_PTRACE = 19


@pytest.fixture
def config(busybox_rootfs):
    require_root()
    return default_config(busybox_rootfs)


@pytest.mark.parametrize("args, status, message", [
    (["/etc"], 126, 'exec: "/etc": permission denied'),                   # a directory
    (["/etc/passwd"], 126, 'exec: "/etc/passwd": permission denied'),     # a file without x bits
    (["/no/such/program"], 127, 'exec: "/no/such/program": no such file or directory'),
    (["no-such-program"], 127, 'exec: "no-such-program": executable file not found in $PATH'),
    (["passwd"], 127, 'exec: "passwd": executable file not found in $PATH'),   # in $PATH but not executable
])
def test_a_command_that_cannot_run_exits_126_or_127(tmp_path, runtime, config, args, status, message):
    config = with_args(config, *args, env=["PATH=/etc:/bin"])
    result = runtime("run", "--bundle", make_bundle(tmp_path / "b", config), "cmd")
    assert result.returncode == status, result.stderr
    assert result.stderr.strip().endswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_signals_before_runs_handlers_are_forwarded_not_fatal(tmp_path, runtime, config):
    """SIGTERM to `run` while it creates the container (before any handler of ours exists) waits,
    blocked, and reaches the container after start: `run` never dies of it and leaks nothing.
    Looped: the window is short, and every iteration signals at a different point of create."""
    script = "trap 'echo got-TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done"
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", script))
    argv = [sys.executable, "-m", "minidocker.runtime", "--root", str(runtime.root), "run", "--bundle", str(bundle)]
    for attempt in range(12):
        proc = subprocess.Popen([*argv, f"sig{attempt}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
        deadline = time.monotonic() + 30
        while not any(ppid == proc.pid for _, ppid in processes().values()):   # it has forked: create began
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01 * (attempt % 4))                  # here or a little later in create
        while proc.poll() is None:                        # again until the shell has set its trap (a
            os.kill(proc.pid, signal.SIGTERM)             # PID 1 ignores a TERM it has no handler for)
            time.sleep(0.1)
            assert time.monotonic() < deadline
        out, err = proc.communicate()
        assert (proc.returncode, out.decode().split()) == (3, ["ready", "got-TERM"]), (attempt, err)


def test_the_process_starts_with_no_signal_blocked_or_ignored(tmp_path, runtime, config):
    config = with_args(config, "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status")
    result = runtime("run", "--bundle", make_bundle(tmp_path / "b", config), "mask")
    assert result.stdout.split() == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16], result.stderr


def _reach_init_from_inside(init_pid: int) -> str:
    """Join the container's pid and mount namespaces as a root process without CAP_SYS_PTRACE (what
    a container process is), then try /proc/1/exe of the container: "readable" or "denied"."""
    effective = int(Path("/proc/self/status").read_text().split("CapEff:")[1].split()[0], 16)
    without_ptrace = effective & ~(1 << CAP_SYS_PTRACE)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            for name, flag in (("pid", libc.CLONE_NEWPID), ("mnt", libc.CLONE_NEWNS)):
                fd = os.open(f"/proc/{init_pid}/ns/{name}", os.O_RDONLY)
                libc.setns(fd, flag)
                os.close(fd)
            inner = os.fork()                             # a member of the container's pid namespace
            if inner == 0:
                libc.capset(without_ptrace, without_ptrace, 0)
                try:
                    os.readlink("/proc/1/exe")
                    os.write(write_end, b"readable")
                except PermissionError:
                    os.write(write_end, b"denied")
                os._exit(0)
            os.waitpid(inner, 0)
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(child, 0)
    return answer


def test_the_waiting_init_is_out_of_reach_until_exec(tmp_path, runtime, config):
    """CVE-2019-5736: the created-not-started init is still the host's Python; a process in the
    container must not open its /proc/PID/exe (nor mem, nor ptrace it). After exec it may."""
    bundle = make_bundle(tmp_path / "b", with_args(config, "sleep", "30"))
    runtime.create(bundle, "dump", tmp_path / "out", check=True)
    init_pid = runtime.state("dump")["pid"]
    assert _reach_init_from_inside(init_pid) == "denied"
    runtime("start", "dump", check=True)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{init_pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert _reach_init_from_inside(init_pid) == "readable"      # the same probe can fail: it shows it works
    runtime("delete", "--force", "dump", check=True)


def test_126_and_127_on_the_engine_path(minidocker, busybox_rootfs, tmp_path):
    """`minidocker run IMAGE CMD` passes the runtime's verdict on as Docker's exit status."""
    require_root()
    assert minidocker("import", busybox_rootfs, "busybox:latest").returncode == 0
    for command, status, message in (("/etc", 126, 'exec: "/etc": permission denied'),
                                     ("/etc/passwd", 126, 'exec: "/etc/passwd": permission denied'),
                                     ("no-such-command", 127, 'exec: "no-such-command": executable file not found')):
        result = minidocker("run", "--rm", "busybox", command)
        assert result.returncode == status and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
