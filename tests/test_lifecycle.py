"""The container lifecycle through its supervisor: create, start, stop, kill, restart, pause,
wait, logs, inspect — with Docker's messages for the odd transitions, and the truth after a crash."""
import os
import re, signal, subprocess, time
from pathlib import Path

from lifecycle_support import inspect, ok
from vm_lane import in_v2_vm

COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"
POLITE = "trap 'echo bye; exit 5' TERM; echo up; while :; do sleep 0.05; done"


def supervisor_pid(tmp_path, container_id):
    return int((tmp_path / "run/containers" / container_id / "supervisor.pid").read_text().split()[0])


def test_create_start_stop(docker, tmp_path):
    cid = ok(docker("create", "--name", "polite", "busybox", "sh", "-c", POLITE)).strip()
    assert len(cid) == 64 and inspect(docker, "polite")["Status"] == "created"
    assert "Created" in ok(docker("ps", "-a"))
    assert ok(docker("start", "polite")) == "polite\n"
    state = inspect(docker, "polite")
    assert (state["Status"], state["Running"]) == ("running", True) and state["Pid"] > 0
    assert ok(docker("start", "polite")) == "polite\n"                    # already running: no error
    pid = supervisor_pid(tmp_path, cid)
    assert os.getsid(pid) != os.getsid(0) and os.getpgid(pid) != os.getpgid(0)   # out of our session
    assert ok(docker("stop", "polite")) == "polite\n"
    state = inspect(docker, "polite")
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 5)
    assert state["FinishedAt"] > state["StartedAt"]
    assert ok(docker("stop", "polite")) == "polite\n"                     # stopped already: no error
    assert ok(docker("logs", "polite")) == "up\nbye\n"
    assert not os.path.ismount(tmp_path / "state/containers" / cid / "bundle/rootfs")
    assert ok(docker("start", "polite")) == "polite\n"                    # a stopped container starts again
    assert ok(docker("stop", "-t", "0", "polite")) == "polite\n"
    assert inspect(docker, "polite")["ExitCode"] in (5, 137)


def test_stop_uses_the_images_stop_signal_then_kills(docker):
    ok(docker("create", "--name", "usr1", "busybox:vol", "sh", "-c", "trap 'exit 9' USR1; while :; do sleep 0.05; done"))
    ok(docker("start", "usr1"))
    ok(docker("stop", "usr1"))
    assert inspect(docker, "usr1")["ExitCode"] == 9
    ok(docker("create", "--name", "deaf", "busybox", "sleep", "100"))     # PID 1 ignores SIGTERM
    ok(docker("start", "deaf"))
    ok(docker("stop", "-t", "1", "deaf"))
    assert inspect(docker, "deaf")["ExitCode"] == 137


def test_odd_transitions_say_what_docker_says(docker):
    cid = ok(docker("create", "--name", "odd", "busybox", "sh", "-c", COUNTER)).strip()
    assert docker("unpause", "odd").stderr == f"minidocker: Container {cid} is not paused\n"
    assert docker("pause", "odd").stderr == f"minidocker: Container {cid} is not running\n"
    refused = docker("exec", "odd", "true")
    assert (refused.returncode, refused.stderr) == (1, f"minidocker: Container {cid} is not running\n")
    killed = docker("kill", "odd")
    assert (killed.returncode, killed.stderr) == (1, f"minidocker: Cannot kill container: odd: Container {cid} is not running\n")
    ok(docker("start", "odd"))
    assert docker("kill", "-s", "BOGUS", "odd").stderr == "minidocker: invalid signal: BOGUS\n"
    assert docker("unpause", "odd").stderr == f"minidocker: Container {cid} is not paused\n"
    ok(docker("pause", "odd"))
    assert inspect(docker, "odd")["Status"] == "paused" and inspect(docker, "odd")["Paused"] is True
    paused = docker("pause", "odd")
    assert (paused.returncode, paused.stderr) == (1, f"minidocker: Container {cid} is already paused\n")
    refused = docker("exec", "odd", "true")
    assert refused.stderr == f"minidocker: Container {cid} is paused, unpause the container before exec\n"
    assert "cannot start a paused container" in docker("start", "odd").stderr
    assert "container is running" in docker("rm", "odd").stderr or "paused" in docker("rm", "odd").stderr
    ok(docker("unpause", "odd"))
    refused = docker("rm", "odd")
    assert refused.returncode != 0 and "container is running: stop the container before removing" in refused.stderr
    ok(docker("kill", "-s", "TERM", "odd"))        # PID 1 without a handler ignores it: still running
    assert inspect(docker, "odd")["Status"] == "running"
    ok(docker("kill", "odd"))
    assert ok(docker("wait", "odd")) == "137\n"
    missing = docker("stop", "nosuch")
    assert (missing.returncode, missing.stderr) == (1, "minidocker: No such container: nosuch\n")


def test_ps_filters_last_and_format_as_docker(docker):
    import json
    assert docker("run", "--network", "none", "--name", "ex3", "busybox", "sh", "-c", "exit 3").returncode == 3
    ok(docker("run", "--network", "none", "--name", "ex0", "busybox:vol", "true"))
    ok(docker("create", "--network", "none", "--name", "made", "busybox", "true"))
    ok(docker("run", "-d", "--network", "none", "--name", "up", "busybox", "sleep", "100"))
    names = lambda *args: ok(docker("ps", *args, "--format", "{{.Names}}")).split()         # noqa: E731
    assert names() == ["up"] and names("-a") == ["up", "made", "ex0", "ex3"]           # the newest first
    assert names("-f", "status=created") == ["made"]                   # a status filter implies -a
    assert names("-a", "-f", "status=exited") == ["ex0", "ex3"] and names("-a", "-f", "exited=3") == ["ex3"]
    assert names("-f", "exited=3") == []                               # exited= alone does not
    assert names("-a", "-f", "name=^ex") == ["ex0", "ex3"] and names("-a", "-f", "ancestor=busybox:vol") == ["ex0"]
    assert names("-a", "-f", "status=exited", "-f", "status=created") == ["made", "ex0", "ex3"]
    assert names("-n", "2") == ["up", "made"] and names("-l") == ["up"]    # -n and -l: any state
    table = ok(docker("ps", "-a", "--format", "table {{.Names}}\t{{.State}}")).splitlines()
    assert table[0] == "NAMES     STATE" and table[1].split() == ["up", "running"]
    [row] = [json.loads(line) for line in ok(docker("ps", "--format", "json")).splitlines()]
    assert (row["Names"], row["State"], row["Command"], row["Status"][:3]) == ("up", "running", '"sleep 100"', "Up ")
    assert ok(docker("container", "ls", "-aq")) == ok(docker("ps", "-aq")) != ""     # Docker's own name of ps
    for bad, message in (("bogus=1", "invalid filter 'bogus'"), ("status=sleepy", "invalid filter 'status=sleepy'"),
                         ("exited=x", 'strconv.Atoi: parsing "x": invalid syntax')):
        refused = docker("ps", "-f", bad)
        assert (refused.returncode, refused.stderr) == (1, f"minidocker: {message}\n")
    ok(docker("stop", "-t", "0", "up"))


def test_inspect_is_docker_shaped_and_container_verbs_keep_their_codes(docker):
    ok(docker("create", "--network", "none", "--name", "res", "-m", "64m", "--cpus", "1.5", "--pids-limit", "20",
              "--entrypoint", "sleep", "busybox", "100"))
    shape = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} " \
            "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Path}} {{json .Args}}"
    assert inspect(docker, "res", shape) == '67108864 134217728 1500000000 20 ["sleep"] ["100"] sleep ["100"]'
    for args in (("container", "inspect", "busybox"), ("inspect", "--type", "container", "busybox")):
        refused = docker(*args)
        assert (refused.returncode, refused.stderr) == (1, "minidocker: No such container: busybox\n")
    assert inspect(docker, "busybox", "{{.Id}}").startswith("sha256:")      # plain inspect finds images too
    both = docker("inspect", "-f", "{{.Name}}", "res", "nosuch")             # what is found, then the error
    assert (both.returncode, both.stdout, both.stderr) == (1, "/res\n", "minidocker: No such object: nosuch\n")
    assert docker("container", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3").returncode == 3
    relative = docker("run", "--network", "none", "-w", "relative", "busybox", "pwd")
    assert (relative.returncode, relative.stderr) == (125, "minidocker: the working directory 'relative' is invalid, "
                                                           "it needs to be an absolute path\n")
    short = docker("create", "--name", "x", "busybox", "true")
    assert short.stderr == "minidocker: Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n"
    assert ok(docker("ps", "-a", "--format", "{{.Names}}")) == "res\n"          # nothing half-made


def test_pause_freezes_every_process(docker):
    ok(docker("create", "--name", "counter", "busybox", "sh", "-c", COUNTER))
    ok(docker("start", "counter"))
    time.sleep(0.3)
    ok(docker("pause", "counter"))
    count = lambda: int(ok(docker("exec", "counter", "cat", "/tmp/count")))    # noqa: E731
    frozen = Path(inspect(docker, "counter", "{{.GraphDriver.Data.UpperDir}}")) / "tmp/count"
    first = frozen.read_text()
    time.sleep(0.3)
    assert frozen.read_text() == first                                      # nothing moved while frozen
    ok(docker("unpause", "counter"))
    before = count()
    time.sleep(0.3)
    assert count() > before
    ok(docker("stop", "-t", "0", "counter"))


def test_oom_kill_shows_in_inspect(docker):
    ok(docker("create", "--name", "hog", "-m", "20m", "busybox", "sh", "-c", "x=$(head -c 64m /dev/zero | tr '\\0' a)"))
    ok(docker("start", "hog"))
    assert ok(docker("wait", "hog")) == "137\n"
    state = inspect(docker, "hog")
    assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 137, True)
    ok(docker("create", "--name", "fine", "-m", "20m", "busybox", "true"))
    ok(docker("start", "fine"))
    assert ok(docker("wait", "fine")) == "0\n" and inspect(docker, "fine")["OOMKilled"] is False


def test_restart_on_failure_restarts_twice(docker):
    ok(docker("create", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"))
    ok(docker("start", "flaky"))
    deadline = time.monotonic() + 30
    while inspect(docker, "flaky", "{{.State.Status}} {{.RestartCount}}") != "exited 2":
        assert time.monotonic() < deadline, inspect(docker, "flaky")
        time.sleep(0.1)
    assert ok(docker("logs", "flaky")) == "run\n" * 3 and inspect(docker, "flaky")["ExitCode"] == 3
    bad = docker("create", "--restart", "sometimes", "busybox", "true")
    assert bad.returncode == 125 and "invalid restart policy: unknown policy 'sometimes'" in bad.stderr


def test_logs_follow_across_restart(docker):
    ok(docker("create", "--name", "talker", "busybox", "sh", "-c", "echo hello $(cat /proc/uptime | cut -d' ' -f1); " + POLITE))
    ok(docker("start", "talker"))
    follower = subprocess.Popen([*docker.argv("logs", "-f", "talker")], stdout=subprocess.PIPE, text=True,
                                env=docker.env)
    try:
        ok(docker("restart", "-t", "2", "talker"))
        time.sleep(0.5)
        ok(docker("stop", "talker"))
        out, _ = follower.communicate(timeout=30)
    finally:
        follower.kill()
        follower.wait()
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["hello", "up", "bye", "hello", "up", "bye"], out


def test_supervisor_killed_means_exited_and_rm_cleans_up(docker, tmp_path):
    cid = ok(docker("create", "--name", "orphan", "busybox", "sleep", "100")).strip()
    ok(docker("start", "orphan"))
    init = inspect(docker, "orphan")["Pid"]
    os.kill(supervisor_pid(tmp_path, cid), signal.SIGKILL)
    time.sleep(0.2)
    state = inspect(docker, "orphan")
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 137)
    assert "Exited (137)" in ok(docker("ps", "-a"))
    assert not Path(f"/proc/{init}").exists() or Path(f"/proc/{init}/stat").read_text().split()[2] == "Z"
    assert ok(docker("rm", "orphan")) == "orphan\n"
    assert not (tmp_path / "state/containers" / cid).exists() and not list((tmp_path / "run/runtime").iterdir())


def test_logs_options_and_streams(docker):
    ok(docker("create", "--name", "both", "busybox", "sh", "-c", "echo one; echo two >&2; echo three; printf four"))
    ok(docker("start", "both"))
    ok(docker("wait", "both"))
    result = docker("logs", "both")
    assert (result.stdout, result.stderr) == ("one\nthree\nfour", "two\n")
    assert ok(docker("logs", "--tail", "1", "both")) == "four"
    stamped = ok(docker("logs", "-t", "--tail", "1", "both"))
    assert stamped.endswith("Z four") and stamped[:4].isdigit()
    assert ok(docker("logs", "--since", "1h", "both")).startswith("one")
    assert ok(docker("logs", "--since", str(time.time() + 60), "both")) == ""
    assert ok(docker("logs", "--until", str(time.time() + 60), "both")) == "one\nthree\nfour"
    assert ok(docker("logs", "--until", "1h", "both")) == ""
    import json
    path = inspect(docker, "both", "{{.LogPath}}")
    entries = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert entries[0]["log"] == "one\n" and entries[0]["stream"] == "stdout" and entries[0]["time"].endswith("Z")
    assert {e["stream"] for e in entries} == {"stdout", "stderr"}
    foreground = docker("run", "--network", "none", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; exit 2")
    assert (foreground.returncode, foreground.stdout, foreground.stderr) == (2, "out\n", "err\n")
    result = docker("logs", "fg")                                    # Docker logs a foreground run too
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_start_attach_wait_top_stats_prune(docker):
    ok(docker("create", "--name", "att", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4"))
    result = docker("start", "-a", "att")
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
    ok(docker("create", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 3"))
    result = docker("start", "-a", "gone")
    assert (result.returncode, result.stdout) == (3, "bye\n")               # the code even with --rm
    assert "gone" not in ok(docker("ps", "-a"))
    ok(docker("create", "-i", "--name", "head", "busybox", "head", "-n", "1"))
    assert docker("start", "-ai", "head", input="piped\n").stdout == "piped\n"
    ok(docker("create", "--name", "top", "busybox", "sleep", "100"))
    ok(docker("start", "top"))
    top = ok(docker("top", "top")).splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and any("sleep 100" in line for line in top[1:])
    assert ok(docker("top", "top", "-o", "pid,comm")).splitlines()[1].split()[1] == "sleep"     # [ps OPTIONS]
    stats = ok(docker("stats", "--no-stream", "top")).splitlines()
    assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and stats[1].split()[1] == "top"
    assert re.split(r"\s{2,}", stats[0])[-3:] == ["NET I/O", "BLOCK I/O", "PIDS"]
    size = r"\d+(\.\d+)?[kMGTP]?B"
    assert re.search(rf"  {size} / {size}\s+{size} / {size}\s+1$", stats[1]), stats[1]   # NET I/O, BLOCK I/O, PIDS
    assert ok(docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "top")) == "top 1\n"
    ok(docker("stop", "-t", "0", "top"))
    stopped = ok(docker("stats", "--no-stream", "top")).splitlines()[1]       # named: shown, all zeros
    assert re.split(r"\s{2,}", stopped)[1:] == ["top", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]
    pruned = ok(docker("container", "prune", "-f"))
    assert pruned.startswith("Deleted Containers:\n") and "Total reclaimed space:" in pruned
    assert ok(docker("ps", "-aq")) == ""


def test_exec_joins_the_container(docker):
    ok(docker("create", "--name", "host", "-m", "64m", "busybox", "sleep", "100"))
    ok(docker("start", "host"))
    init = inspect(docker, "host")["Pid"]
    inside = ok(docker("exec", "host", "sh", "-c", "for ns in pid mnt uts ipc net; do readlink /proc/self/ns/$ns; done; cat /proc/self/cgroup; grep -E 'CapEff|NoNewPrivs|Seccomp:' "
                       "/proc/self/status"))
    expected = [os.readlink(f"/proc/{init}/ns/{kind}") for kind in ("pid", "mnt", "uts", "ipc", "net")]
    assert inside.splitlines()[:5] == expected
    assert Path(f"/proc/{init}/cgroup").read_text() in inside
    status = dict(line.split(":\t") for line in Path(f"/proc/{init}/status").read_text().splitlines() if ":\t" in line)
    for key in ("CapEff", "NoNewPrivs", "Seccomp"):
        assert f"{key}:\t{status[key]}" in inside
    assert docker("exec", "host", "sh", "-c", "exit 7").returncode == 7
    missing = docker("exec", "host", "nosuch")
    assert missing.returncode == 127 and 'exec: "nosuch": executable file not found in $PATH' in missing.stderr
    assert docker("exec", "host", "/etc/passwd").returncode == 126
    assert ok(docker("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "host", "sh", "-c", "id -u; pwd; echo $X")) \
        == "65534\n/tmp\n1\n"
    missing = docker("exec", "-w", "/nowhere", "host", "pwd")
    assert missing.returncode == 126 and 'chdir to cwd ("/nowhere") set in config.json failed' in missing.stderr
    (Path(docker.env["MINIDOCKER_ROOT"]).parent / "env").write_text("X=file\nY=file\n")
    env_file = str(Path(docker.env["MINIDOCKER_ROOT"]).parent / "env")
    assert ok(docker("exec", "--env-file", env_file, "-e", "Y=flag", "host", "sh", "-c", "echo $X $Y")) == "file flag\n"
    ok(docker("exec", "-d", "host", "sleep", "30"))
    assert "sleep 30" in ok(docker("exec", "host", "ps"))
    ok(docker("stop", "-t", "0", "host"))


def test_exec_with_a_terminal(docker):
    import pty
    ok(docker("create", "--name", "term", "busybox", "sleep", "100"))
    ok(docker("start", "term"))
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(docker.argv()[0], docker.argv("exec", "-it", "term", "sh", "-c", "tty; exit 3"), docker.env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 3 and b"/dev/pts/" in out
    ok(docker("stop", "-t", "0", "term"))


@in_v2_vm("tests/test_lifecycle.py", "-k", "pause_freezes or oom_kill", vm_timeout=600)
def test_pause_and_oom_on_pure_cgroup_v2(v2vm):
    """The freezer (cgroup.freeze) and the OOM kill (memory.events) on cgroup v2; exec passed there
    too (by hand, 2 minutes more in the emulated VM)."""


SIZES = "while :; do stty size; sleep 0.1; done"


def test_run_it_has_the_terminal_size_at_start_and_on_sigwinch(docker):
    from lifecycle_support import Terminal
    term = Terminal(docker.argv("run", "-it", "--rm", "--name", "sized", "busybox", "sh", "-c", SIZES), docker.env,
                    rows=31, columns=101)
    term.expect("31 101")
    term.resize(42, 120)
    term.expect("42 120")
    ok(docker("kill", "sized"))
    assert term.close() == 137


def test_exec_it_and_attach_follow_the_window(docker):
    from lifecycle_support import Terminal
    ok(docker("run", "-dit", "--name", "shell", "busybox", "sh", "-c", SIZES))
    term = Terminal(docker.argv("exec", "-it", "shell", "sh", "-c", SIZES), docker.env, rows=33, columns=99)
    term.expect("33 99")
    term.resize(44, 111)
    term.expect("44 111")
    term.write(b"\x03")                        # Ctrl-C reaches the exec'd shell through its terminal
    assert term.close() == 130
    term = Terminal(docker.argv("attach", "shell"), docker.env, rows=25, columns=77)
    term.expect("25 77")                       # attach gives the container's terminal ours
    term.resize(36, 88)
    term.expect("36 88")
    term.write(b"\x10\x11")                    # Ctrl-P Ctrl-Q: detach, the container goes on
    assert term.close() == 0
    assert inspect(docker, "shell")["Running"] is True
    ok(docker("stop", "-t", "0", "shell"))


def test_run_i_closes_the_containers_stdin_at_the_end_of_ours(docker):
    result = docker("run", "-i", "--name", "once", "busybox", "cat", input="hi\n", timeout=30)
    assert (result.returncode, result.stdout) == (0, "hi\n")
    assert inspect(docker, "once", "{{json .Config.StdinOnce}}") is True
    ok(docker("create", "-i", "--name", "kept", "busybox", "cat"))
    assert inspect(docker, "kept", "{{json .Config.StdinOnce}}") is False     # only `run -i` sets it, as Docker


def test_net_io_reads_the_namespace_of_the_process():
    """/proc/PID/net/dev is the net namespace of PID: a process in an empty namespace shows 0."""
    from minidocker.container.details import net_io
    from support import require_root
    require_root()
    received, sent = net_io(os.getpid())       # (the tests' session has a namespace of its own,
    assert received >= 0 and sent >= 0          # and /sys still shows the host's: no floor from it)
    lonely = subprocess.Popen(["unshare", "-n", "sleep", "5"])
    try:
        for _ in range(50):
            if os.readlink(f"/proc/{lonely.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.02)
        assert net_io(lonely.pid) == (0, 0)
    finally:
        lonely.kill()
        lonely.wait()
