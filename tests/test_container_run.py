"""`minidocker run IMAGE`: the engine path — image layers plus a container layer, through the
runtime — with Docker's flags, exit statuses and one-line errors; `ps` and `rm` beside it."""
import json, os, pty, select, subprocess, sys, time

import pytest

from support import require_root


@pytest.fixture
def engine(minidocker, busybox_rootfs, tmp_path):
    """The CLI on a private state root holding busybox:latest, imported as ./course setup does."""
    require_root()
    result = minidocker("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest")
    assert result.returncode == 0, result.stderr
    yield minidocker
    for path in (tmp_path / "state/containers").glob("*/bundle/rootfs"):
        assert not os.path.ismount(path), f"{path} is still mounted"


def containers(tmp_path):
    return [json.loads(p.read_text()) for p in (tmp_path / "state/containers").glob("*/config.json")]


def test_run_rm_prints_and_leaves_nothing(engine, tmp_path):
    result = engine("run", "--rm", "busybox", "sh", "-c", "echo PID $$; cat /etc/os-release | head -1")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == ["PID 1", 'NAME="BusyBox"']
    assert containers(tmp_path) == []


def test_default_command_hostname_and_environment(engine):
    result = engine("run", "--rm", "-e", "A=1", "-w", "/etc", "busybox", "sh", "-c",
                    'echo $A $HOME $(pwd) $(hostname) $(cat /etc/hostname) $HOSTNAME')
    a, home, cwd, hostname, etc_hostname, env_hostname = result.stdout.split()
    assert (a, home, cwd) == ("1", "/root", "/etc")
    assert hostname == etc_hostname == env_hostname and len(hostname) == 12


def test_exit_statuses_are_dockers(engine):
    assert engine("run", "--rm", "busybox", "sh", "-c", "exit 7").returncode == 7
    missing = engine("run", "--rm", "busybox", "no-such-command")
    assert missing.returncode == 127 and 'exec: "no-such-command"' in missing.stderr
    unknown = engine("run", "--rm", "nope")
    assert unknown.returncode == 125                      # pulled first, as Docker does; nothing answers
    assert unknown.stderr.splitlines()[0] == "Unable to find image 'nope:latest' locally"
    assert unknown.stderr.count("\n") == 2 and unknown.stderr.splitlines()[1].startswith("minidocker: ")


def test_writes_land_in_the_container_layer_only(engine, tmp_path):
    result = engine("run", "--name", "writer", "busybox", "sh", "-c", "echo hi > /greeting; rm /bin/vi; exit 3")
    assert result.returncode == 3
    [record] = containers(tmp_path)
    assert (record["Name"], record["State"]["Status"], record["State"]["ExitCode"]) == ("/writer", "exited", 3)
    upper = tmp_path / "state/containers" / record["ID"] / "upper"
    assert (upper / "greeting").read_text() == "hi\n" and (upper / "bin/vi").is_char_device()
    fresh = engine("run", "--rm", "busybox", "sh", "-c", "ls /greeting; ls /bin/vi")   # a new container: the image as built
    assert fresh.stdout == "/bin/vi\n" and "/greeting: No such file" in fresh.stderr
    refused = engine("image", "rm", "busybox")
    assert refused.returncode == 1 and "is using its referenced image" in refused.stderr
    taken = engine("run", "--name", "writer", "busybox", "true")
    assert taken.returncode == 125 and 'The container name "/writer" is already in use' in taken.stderr
    assert engine("rm", "writer").stdout == "writer\n"
    assert containers(tmp_path) == [] and engine("image", "rm", "busybox").returncode == 0


def test_user_entrypoint_and_limits(engine):
    assert engine("run", "--rm", "-u", "65534:65534", "busybox", "id").stdout.startswith("uid=65534(nobody) gid=65534(nogroup)")
    assert engine("run", "--rm", "-u", "nobody", "busybox", "id", "-u").stdout == "65534\n"
    assert engine("run", "--rm", "--entrypoint", "echo", "busybox", "hi").stdout == "hi\n"
    hog = engine("run", "--rm", "-m", "20m", "busybox", "sh", "-c", "x=$(head -c 64m /dev/zero | tr '\\0' a)")
    assert hog.returncode == 137
    limit = engine("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c",
                   "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert limit.stdout == "10\n"
    bomb = engine("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", "for i in $(seq 30); do sleep 5 & done")
    assert "can't fork" in bomb.stderr


def test_bad_input_is_one_line_and_leaves_nothing(engine, tmp_path):
    for args in (("run", "--rm", "-u", "nosuchuser", "busybox", "id"),
                 ("run", "-m", "lots", "busybox", "true"),
                 ("run", "--name", "bad/name", "busybox", "true"),
                 ("run", "--rm", "--entrypoint", "", "busybox")):
        result = engine(*args)
        assert result.returncode == 125 and result.stderr.count("\n") == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert containers(tmp_path) == []


def test_ps_shows_dockers_columns(engine):
    engine("run", "--name", "first", "busybox", "sh", "-c", "exit 2")
    listing = engine("ps", "-a").stdout.splitlines()
    assert listing[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert "busybox" in listing[1] and '"sh -c \'exit 2\'"' in listing[1] and "Exited (2)" in listing[1]
    assert listing[1].endswith("first")
    assert engine("ps").stdout.splitlines()[1:] == []
    assert len(engine("ps", "-aq").stdout.split()[0]) == 12
    assert engine("rm", "first").returncode == 0


def test_interactive_tty(engine, tmp_path):
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    cli = subprocess.Popen([sys.executable, "-m", "minidocker", "run", "-it", "--rm", "busybox", "sh"],
                           stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen, typed, deadline = b"", False, time.monotonic() + 20
    while cli.poll() is None and time.monotonic() < deadline:
        if not typed and b"# " in seen:          # type at the shell's prompt, as a person would
            os.write(master, b"tty; echo $((6*7)); exit 5\n")
            typed = True
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    try:
        assert cli.wait(timeout=20) == 5
    finally:
        cli.kill()
        cli.wait()
        os.close(master)
    assert b"/dev/pts/0" in seen and b"42" in seen


def test_tty_window_size_at_start_and_after_a_resize(engine, tmp_path):
    """-t: the container's terminal has the size of ours (process.consoleSize), and follows it on
    SIGWINCH. Under a real pty: `stty size` inside, before and after the outer terminal is resized."""
    import fcntl, struct, termios
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))

    def session():          # the CLI as the session leader of its own terminal, as in a real shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    cli = subprocess.Popen([sys.executable, "-m", "minidocker", "run", "-it", "--rm", "busybox", "sh"],
                           stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=session)
    os.close(slave)
    seen = b""

    def read_until(marker):
        nonlocal seen
        deadline = time.monotonic() + 10
        while marker not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return
    try:
        read_until(b"# ")
        os.write(master, b"echo A$(stty size)A\n")
        read_until(b"A33 111A")
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 122, 0, 0))   # SIGWINCH to the CLI
        time.sleep(0.5)
        os.write(master, b"echo B$(stty size)B; exit 3\n")
        read_until(b"B44 122B")
        assert cli.wait(timeout=20) == 3
    finally:
        cli.kill()
        cli.wait()
        os.close(master)
    assert b"B44 122B" in seen, seen[-300:]          # SIGWINCH: the engine resizes the container's terminal
    assert b"A33 111A" in seen, seen[-300:]          # at start: the runtime applies process.consoleSize
