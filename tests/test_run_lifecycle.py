"""`run` and `rm` wired to the lifecycle: `run -d`, `run -v`, `--rm` with anonymous volumes,
`rm -v`, `create` + `rm` leaving nothing, and the runtime's exec/pause verbs on its command line."""
import json, subprocess, sys, time

from lifecycle_support import inspect, ok


def test_run_detached_then_ps_logs_exec_stop_rm(docker):
    cid = ok(docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "echo up; while :; do sleep 0.05; done")).strip()
    assert len(cid) == 64
    assert inspect(docker, "ticker")["Running"] is True
    assert "ticker" in ok(docker("ps")) and " Up " in ok(docker("ps"))
    for _ in range(50):
        if ok(docker("logs", "ticker")) == "up\n":
            break
        time.sleep(0.1)
    assert ok(docker("logs", "ticker")) == "up\n"
    assert ok(docker("exec", "ticker", "echo", "inside")) == "inside\n"
    refused = docker("rm", "ticker")
    assert refused.returncode == 1 and "container is running" in refused.stderr and refused.stderr.count("\n") == 1
    ok(docker("pause", "ticker"))
    assert "(Paused)" in ok(docker("ps"))
    ok(docker("unpause", "ticker"))
    ok(docker("stop", "-t", "1", "ticker"))
    assert "Exited" in ok(docker("ps", "-a"))
    assert ok(docker("rm", "ticker")) == "ticker\n"
    assert ok(docker("ps", "-aq")) == ""


def test_run_volumes_outlive_the_container_and_rm_v_takes_anonymous_ones(docker):
    assert ok(docker("run", "--rm", "-v", "kept:/data", "busybox", "sh", "-c", "echo saved > /data/f")) == ""
    assert ok(docker("run", "--rm", "-v", "kept:/data", "busybox", "cat", "/data/f")) == "saved\n"
    ok(docker("run", "--name", "anon", "busybox:vol", "sh", "-c", "echo x > /data/y"))
    volumes = [m["Name"] for m in json.loads(ok(docker("inspect", "anon")))[0]["Mounts"] if m["Type"] == "volume"]
    assert len(volumes) == 1 and volumes[0] in ok(docker("volume", "ls", "-q"))
    ok(docker("rm", "-v", "anon"))
    assert ok(docker("volume", "ls", "-q")).split() == ["kept"]
    ok(docker("run", "--rm", "busybox:vol", "true"))                    # --rm: its anonymous volume goes too
    assert ok(docker("volume", "ls", "-q")).split() == ["kept"]
    bad = docker("run", "--rm", "-v", "a:b:c:d", "busybox", "true")
    assert bad.returncode == 125 and bad.stderr.count("\n") == 1, bad.stderr


def test_create_then_rm_leaves_no_supervisor_or_state(docker):
    ok(docker("create", "--name", "idle", "busybox", "true"))
    assert ok(docker("rm", "idle")) == "idle\n"                         # the host guard checks what is left
    assert ok(docker("ps", "-aq")) == ""


def test_the_runtime_command_line_has_exec_pause_and_resume():
    help_text = subprocess.run([sys.executable, "-m", "minidocker.runtime", "--help"], capture_output=True, text=True).stdout
    for verb in ("exec", "pause", "resume"):
        assert verb in help_text


def test_init_is_pid_1_forwards_signals_reaps_and_passes_the_exit_code(docker):
    shown = docker("run", "--rm", "--init", "busybox", "sh", "-c",
                   "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$ $PPID; (sleep 0.1 &); sleep 0.5; ps -o stat=; exit 7")
    lines = shown.stdout.splitlines()
    assert shown.returncode == 7, shown.stderr                              # the command's code, through tini
    assert lines[0].startswith("/sbin/docker-init -- sh -c ")              # PID 1 is the init...
    assert lines[1] == "2 1"                                                # ...and the command its child
    assert "Z" not in "".join(lines[2:]), lines                              # the orphaned sleep was reaped
    ok(docker("run", "-d", "--init", "--name", "tini", "busybox", "sleep", "100"))
    assert inspect(docker, "tini", "{{json .HostConfig.Init}}") is True
    ok(docker("stop", "-t", "20", "tini"))                 # sleep is no PID 1 now: SIGTERM kills it at once
    assert inspect(docker, "tini")["ExitCode"] == 143
    ok(docker("run", "-d", "--name", "bare", "busybox", "sleep", "100"))
    ok(docker("stop", "-t", "1", "bare"))                  # as PID 1 it ignored SIGTERM: killed after 1 s
    assert inspect(docker, "bare")["ExitCode"] == 137
