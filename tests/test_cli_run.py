"""`python -m minidocker run` as a user types it: flags, exit statuses, signals, bad input."""
import os, signal, subprocess, sys, time
from pathlib import Path



def test_run_prints_and_exits_with_the_commands_status(minidocker, busybox_rootfs):
    result = minidocker("run", "--rootfs", busybox_rootfs, "-h", "web", "-e", "GREETING=hi", "-w", "/etc",
                        "sh", "-c", 'echo "$GREETING from $(hostname) in $(pwd) as PID $$"; exit 4')
    assert (result.returncode, result.stdout, result.stderr) == (4, "hi from web in /etc as PID 1\n", "")


def test_default_environment_and_hostname(minidocker, busybox_rootfs):
    result = minidocker("run", "--rootfs", busybox_rootfs, "sh", "-c", 'echo $PATH; echo $HOSTNAME; hostname')
    path, env_host, hostname = result.stdout.split()
    assert path == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert env_host == hostname and len(hostname) == 12


def test_missing_command_is_127_with_one_line(minidocker, busybox_rootfs):
    result = minidocker("run", "--rootfs", busybox_rootfs, "nope")
    assert result.returncode == 127
    assert result.stderr == 'minidocker: exec: "nope": executable file not found in $PATH\n'


def test_bad_input_is_one_line_and_125(minidocker, busybox_rootfs, tmp_path):
    (tmp_path / "empty").mkdir()
    cases = [("run", "--rootfs", tmp_path / "missing", "true"),
             ("run", "--rootfs", tmp_path / "empty", "true"),
             ("run", "--rootfs", busybox_rootfs),
             ("run", "--bogus-flag", "--rootfs", busybox_rootfs, "true"),
             ("no-such-verb",)]
    for args in cases:
        result = minidocker(*args)
        assert result.returncode == 125, (args, result.stderr)
        assert result.stderr.startswith("minidocker: ") and result.stderr.count("\n") == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
    missing = minidocker("run", "true")                 # an image that is not here: pulled first, as Docker does
    assert missing.returncode == 125 and "Traceback" not in missing.stderr
    first, second = missing.stderr.splitlines()
    assert first == "Unable to find image 'true:latest' locally" and second.startswith("minidocker: ")


def test_not_root_is_a_clear_error(busybox_rootfs, tmp_path):
    env = {**os.environ, "MINIDOCKER_ROOT": str(tmp_path)}
    env.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             sys.executable, "-m", "minidocker", "run", "--rootfs", str(busybox_rootfs), "true"],
                            capture_output=True, text=True, env=env, cwd="/")
    assert result.returncode == 125
    assert "needs root" in result.stderr and "Vagrant" in result.stderr and result.stderr.count("\n") == 1


def _pid_of(argv: bytes, timeout=10):
    """The host pid of the process whose command line is exactly `argv` (NUL-separated)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if Path(f"/proc/{entry}/cmdline").read_bytes() == argv:
                        return int(entry)
                except OSError:
                    pass
        time.sleep(0.05)
    raise AssertionError(f"no process {argv!r}")


def _start(busybox_rootfs, tmp_path, *command):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    return subprocess.Popen([sys.executable, "-m", "minidocker", "run", "--rm", "--rootfs", str(busybox_rootfs), *command],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_by_a_signal_is_128_plus_n(busybox_rootfs, tmp_path):
    cli = _start(busybox_rootfs, tmp_path, "sleep", "4242")
    os.kill(_pid_of(b"sleep\x004242\x00"), signal.SIGKILL)
    assert cli.wait(timeout=10) == 128 + signal.SIGKILL


def test_signals_to_the_cli_reach_the_container(busybox_rootfs, tmp_path):
    cli = _start(busybox_rootfs, tmp_path, "sh", "-c", 'trap "exit 42" TERM; echo ready; while true; do sleep 0.1; done')
    assert cli.stdout.readline() == b"ready\n"
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(timeout=10) == 42


def test_a_sigterm_right_after_the_container_starts_is_forwarded_every_time(busybox_rootfs, tmp_path):
    """The CLI's handlers are in place before the runtime forks: a SIGTERM the instant the container
    runs reaches it, instead of killing the CLI and orphaning the container (a flaky CI run caught
    that window). Repeated, since it is a race."""
    for _ in range(8):
        cli = _start(busybox_rootfs, tmp_path, "sh", "-c", 'trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done')
        assert cli.stdout.readline() == b"ready\n"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=20) == 42, cli.stderr.read()
    assert not list((tmp_path / "state/containers").glob("*/config.json"))


def test_a_killed_cli_leaves_its_container_to_ps_and_rm(minidocker, busybox_rootfs, tmp_path):
    """As with docker and podman, the CLI is not what keeps a container alive: after kill -9 of
    `run`, the container runs on; `ps` shows it and `rm -f` releases it."""
    cli = _start(busybox_rootfs, tmp_path, "sleep", "4343")
    container_pid = _pid_of(b"sleep\x004343\x00")
    cli.kill()
    cli.wait(timeout=10)
    assert os.path.exists(f"/proc/{container_pid}")
    [container_id] = minidocker("ps", "-q").stdout.split()
    assert minidocker("rm", "-f", container_id).returncode == 0
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{container_pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{container_pid}") or Path(f"/proc/{container_pid}/stat").read_text().split()[2] == "Z"
    assert minidocker("ps", "-aq").stdout == ""
