"""The OCI runtime (chapter 3): lifecycle, config.json honoured, console socket, seccomp, CLI,
and bad input that must leave nothing behind."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oci_support import default_config, env, make_bundle, runtime, subreaper, with_args  # noqa: F401 (fixtures)
from support import require_root


@pytest.fixture
def config(busybox_rootfs):
    require_root()
    return default_config(busybox_rootfs)


def run(runtime, tmp_path, config, cid="c1", **kw):
    bundle = make_bundle(tmp_path / f"bundle-{cid}", config)
    return runtime("run", "--bundle", bundle, cid, **kw)


def test_spec_writes_runc_like_default(tmp_path, runtime):
    runtime("spec", "--bundle", tmp_path, check=True)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"]["noNewPrivileges"] is True
    assert config["process"]["capabilities"]["bounding"] == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert "/proc/kcore" in config["linux"]["maskedPaths"] and "/proc/sys" in config["linux"]["readonlyPaths"]
    again = runtime("spec", "--bundle", tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr and len(again.stderr.splitlines()) == 1


def test_lifecycle_create_start_state_kill_delete(tmp_path, runtime, config):
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", "echo started; exec sleep 60"))
    out, pidfile = tmp_path / "out", tmp_path / "pid"
    result = runtime("create", "--bundle", bundle, "--pid-file", pidfile, "life",
                stdout=open(out, "w"), stderr=subprocess.STDOUT, capture_output=False)
    assert result.returncode == 0
    st = runtime.state("life")
    assert st["status"] == "created" and st["id"] == "life" and st["bundle"] == str(bundle)
    assert int(pidfile.read_text()) == st["pid"]
    assert b"sleep" not in Path(f"/proc/{st['pid']}/cmdline").read_bytes()    # still our init, waiting
    assert out.read_text() == ""
    listing = runtime("list", check=True).stdout.splitlines()
    assert listing[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert listing[1].split()[:3] == ["life", str(st["pid"]), "created"]
    runtime("start", "life", check=True)
    assert runtime.state("life")["status"] == "running"
    deadline = time.monotonic() + 5
    while "started" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.read_text() == "started\n"
    assert runtime("list", "-q", check=True).stdout.split() == ["life"]
    assert json.loads(runtime("list", "--format", "json", check=True).stdout)[0]["status"] == "running"
    again = runtime("start", "life")
    assert again.returncode != 0 and "running" in again.stderr
    refused = runtime("delete", "life")
    assert refused.returncode != 0 and "not stopped" in refused.stderr
    runtime("kill", "life", "KILL", check=True)
    runtime.wait_status("life", "stopped")
    assert runtime.state("life")["pid"] == 0
    runtime("delete", "life", check=True)
    gone = runtime("state", "life")
    assert gone.returncode != 0 and "does not exist" in gone.stderr
    assert not (runtime.root / "life").exists()


def test_delete_of_created_container_kills_it(tmp_path, runtime, config):
    bundle = make_bundle(tmp_path / "b", config)
    assert runtime.create(bundle, "c", tmp_path / "out").returncode == 0
    pid = runtime.state("c")["pid"]
    runtime("delete", "c", check=True)
    assert not Path(f"/proc/{pid}/cmdline").exists() or Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"


def test_run_returns_exit_status_and_output(tmp_path, runtime, config):
    result = run(runtime, tmp_path, with_args(config, "sh", "-c", "echo out; echo err >&2; exit 3"))
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    bundle = make_bundle(tmp_path / "b2", with_args(config, "sleep", "60"))
    running = subprocess.Popen([*runtime.argv, "--root", str(runtime.root), "run", "--bundle", str(bundle), "c2"],
                               env=env())
    deadline = time.monotonic() + 10
    while runtime("state", "c2").returncode or runtime.state("c2")["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    runtime("kill", "c2", "SIGKILL", check=True)
    assert running.wait(10) == 137                       # 128 + 9, as a shell reports it


def test_run_detached_then_kill_all(tmp_path, runtime, config):
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", "sleep 60 & sleep 60 & wait"))
    with open(tmp_path / "out", "w") as out:      # the container keeps its stdio: not a pipe we wait on
        runtime("run", "-d", "--bundle", bundle, "d", check=True, stdout=out, stderr=out, capture_output=False)
    assert runtime.state("d")["status"] == "running"
    runtime("kill", "--all", "d", "9", check=True)
    runtime.wait_status("d", "stopped")
    runtime("delete", "d", check=True)


def test_config_is_honoured(tmp_path, runtime, config, tmp_path_factory):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    config = with_args(config, "sh", "-c", "id; hostname; pwd; echo $GREETING; ulimit -n; ulimit -u; "
                       "cat /data/hello; touch /data/x 2>&1 | grep -c Read-only; grep -E '^Cap(Eff|Bnd)' /proc/self/status;"
                       " cat /proc/sys/net/ipv4/ip_forward; cat /proc/self/uid_map",
                       cwd="/tmp", env=["PATH=/bin:/usr/bin", "GREETING=hi"],
                       user={"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
                       rlimits=[{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
                                {"type": "RLIMIT_NPROC", "soft": 77, "hard": 77}])
    config["hostname"] = "honoured"
    config["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
    config["mounts"] += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]},
                         {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind", "ro"]}]
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    result = run(runtime, tmp_path, config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "uid=1000 gid=1000 groups=10,20"
    assert lines[1:9] == ["honoured", "/tmp", "hi", "512", "77", "from the host", "1",
                          "CapEff:\t0000000000000000"]            # a non-root uid: no effective caps
    assert lines[9] == "CapBnd:\t0000000000000021"                 # CAP_CHOWN | CAP_KILL
    assert lines[10] == "1"
    assert lines[11].split() == ["0", "0", "4294967295"]         # no user namespace


@pytest.fixture
def traversable_rootfs():
    """A rootfs the container's mapped root (host uid 100000) can reach: pytest's tmp is 0700."""
    import shutil, tempfile
    from support import mkrootfs
    top = Path(tempfile.mkdtemp(prefix="minidocker-userns-", dir="/tmp"))
    top.chmod(0o755)
    yield mkrootfs(top / "rootfs")
    shutil.rmtree(top)


def test_user_namespace_mappings(tmp_path, runtime, config, traversable_rootfs):
    config["root"]["path"] = str(traversable_rootfs)
    config = with_args(config, "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; stat -c %u /tmp/f")
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    config["mounts"] = [m for m in config["mounts"] if m["type"] not in ("cgroup",)]
    result = run(runtime, tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0", "100000", "65536", "0", "100000", "65536", "0"]


def test_joining_namespaces_by_path(tmp_path, runtime, config):
    first = make_bundle(tmp_path / "b1", with_args(config, "sleep", "60"))
    first_config = json.loads((first / "config.json").read_text())
    first_config["hostname"] = "first"
    (first / "config.json").write_text(json.dumps(first_config))
    assert runtime.create(first, "first", tmp_path / "out1").returncode == 0
    pid = runtime.state("first")["pid"]
    joined = with_args(config, "sh", "-c", "hostname; readlink /proc/self/ns/net")
    del joined["hostname"]
    joined["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                                     {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
                                     {"type": "network", "path": f"/proc/{pid}/ns/net"}]
    result = run(runtime, tmp_path, joined, cid="second")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["first", os.readlink(f"/proc/{pid}/ns/net")]
    runtime("delete", "--force", "first", check=True)


def test_console_socket_passes_a_pty_master(tmp_path, runtime, config):
    path = tmp_path / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty",
                                                   terminal=True))
    creating = subprocess.Popen([sys.executable, "-m", "minidocker.runtime", "--root", str(runtime.root), "create",
                                 "--bundle", str(bundle), "--console-socket", str(path), "tty"], env=env(),
                                stderr=subprocess.PIPE)
    connection, _ = server.accept()
    message, fds, _, _ = socket.recv_fds(connection, 4096, 1)
    assert creating.wait(30) == 0, creating.stderr.read()
    assert message.startswith(b"/dev/pts/") and len(fds) == 1
    runtime("start", "tty", check=True)
    output = b""
    while True:
        try:
            chunk = os.read(fds[0], 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(fds[0])
    connection.close()
    server.close()
    assert output.decode().replace("\r", "").splitlines() == ["/dev/pts/0", "stdin-is-a-tty"]
    runtime.wait_status("tty", "stopped")
    runtime("delete", "tty", check=True)


def test_seccomp_profile_is_enforced(tmp_path, runtime, config):
    config = with_args(config, "sh", "-c", "mkdir /tmp/a && echo made; mkdir /tmp/b 2>&1; echo rc=$?")
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    result = run(runtime, tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert "made" not in result.stdout and "Permission denied" in result.stdout


def test_minidocker_runtime_is_the_same_cli(tmp_path, minidocker, config):
    require_root()
    bundle = make_bundle(tmp_path / "b", with_args(config, "echo", "via minidocker runtime"))
    result = minidocker("runtime", "--root", tmp_path / "state", "run", "--bundle", bundle, "x")
    assert (result.returncode, result.stdout) == (0, "via minidocker runtime\n"), result.stderr
    listing = minidocker("runtime", "--root", tmp_path / "state", "list", "-q")
    assert listing.returncode == 0 and listing.stdout == ""
    assert minidocker("runtime", "--help").returncode == 0


def test_runtime_does_not_import_the_cli():
    code = "import sys, minidocker.runtime.cli, minidocker.runtime.commands; print('minidocker.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    assert result.stdout.strip() == "False", result.stderr


# --- bad input: one line, non-zero, nothing left (the fixtures check state dirs, cgroups, processes) ---

def _one_line_error(result, *words):
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("text, words", [
    ("{not json", ["invalid JSON"]),
    ("[]", ["not a JSON object"]),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}}', ["process is missing"]),
    ('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": [], "cwd": "/"}}', ["process.args"]),
    ('{"ociVersion": "1.0.2", "root": {"path": "nowhere"}, "process": {"args": ["true"], "cwd": "/"}}', ["nowhere"]),
])
def test_malformed_config_is_one_line_and_leaves_nothing(tmp_path, runtime, text, words):
    require_root()
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(text)
    _one_line_error(runtime("create", "--bundle", tmp_path, "bad"), *words)
    assert not (runtime.root / "bad").exists()


def test_bad_values_in_config(tmp_path, runtime, config):
    for i, (change, words) in enumerate([
            (lambda c: c["linux"]["namespaces"].append({"type": "time"}), ["namespace type"]),
            (lambda c: c["process"]["capabilities"].update(bounding=["CAP_FLY"]), ["CAP_FLY"]),
            (lambda c: c["process"].update(args=["no-such-command"]), ["no-such-command", "not found"]),
            (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "soft": 10**7, "hard": 10**7}),
             ["RLIMIT_NOFILE"]),
            (lambda c: c["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such/dir"}),
             ["/no/such/dir"])]):
        bad = json.loads(json.dumps(config))
        change(bad)
        bundle = make_bundle(tmp_path / f"b{i}", bad)
        _one_line_error(runtime("create", "--bundle", bundle, f"bad{i}"), *words)
        assert not (runtime.root / f"bad{i}").exists()


def test_a_limit_the_kernel_refuses(tmp_path, runtime, config):
    config["linux"]["resources"]["cpu"] = {"quota": 500, "period": 100000}    # below the kernel's 1 ms minimum
    bundle = make_bundle(tmp_path / "b", config)
    _one_line_error(runtime("create", "--bundle", bundle, "limit"), "cpu")
    assert not (runtime.root / "limit").exists()


def test_unknown_ids_and_duplicates(tmp_path, runtime, config):
    require_root()
    for verb in (["state"], ["start"], ["kill"], ["delete"], ["delete", "--force"]):
        _one_line_error(runtime(*verb, "ghost"), "ghost", "does not exist")
    _one_line_error(runtime("state", "../etc"), "invalid container id")
    _one_line_error(runtime("kill", "ghost", "NOSUCHSIGNAL"), "invalid signal")
    bundle = make_bundle(tmp_path / "b", config)
    assert runtime.create(bundle, "dup", tmp_path / "out").returncode == 0
    _one_line_error(runtime("create", "--bundle", bundle, "dup"), "already exists")
    runtime("delete", "dup", check=True)


def test_no_pivot_moves_and_chroots(tmp_path, runtime, config):
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", "ls /; grep -c ' / ' /proc/mounts"))
    result = runtime("run", "--no-pivot", "--bundle", bundle, "np")
    assert result.returncode == 0, result.stderr
    assert "bin" in result.stdout.split() and "proc" in result.stdout.split()


def test_cgroup_namespace_shows_the_container_cgroup_as_root(tmp_path, runtime, config):
    from minidocker.runtime import cgroups
    config["linux"]["namespaces"].append({"type": "cgroup"})
    config["linux"]["resources"]["pids"] = {"limit": 33}
    limit = "pids/pids.max" if cgroups.layout() == "v1" else "pids.max"
    result = run(runtime, tmp_path, with_args(config, "sh", "-c", f"cat /proc/self/cgroup; cat /sys/fs/cgroup/{limit}"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "33"
    assert all(line.endswith(":/") for line in lines[:-1] if line.split(":")[1]), lines   # v1 trees: "/"


def test_run_with_terminal_proxies_our_tty(tmp_path, runtime, config):
    """`run` without --console-socket and process.terminal: it holds the pty master itself."""
    import pty
    bundle = make_bundle(tmp_path / "b", with_args(config, "sh", "-c", "tty; read x; echo got $x", terminal=True))
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.clear()
        os.environ.update(env())
        os.execv(sys.executable, [sys.executable, "-m", "minidocker.runtime", "--root", str(runtime.root), "run",
                                  "--bundle", str(bundle), "tty"])
    output, deadline = b"", time.monotonic() + 20
    while b"/dev/pts/0" not in output and time.monotonic() < deadline:
        output += os.read(fd, 1024)
    os.write(fd, b"hello\r")
    while time.monotonic() < deadline:     # until EIO: every holder of the terminal has exited
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    os.close(fd)
    assert status == 0
    assert b"/dev/pts/0" in output and b"got hello" in output, output


def test_a_missing_console_socket_is_one_line(tmp_path, runtime, config):
    bundle = make_bundle(tmp_path / "b", with_args(config, "tty", terminal=True))
    _one_line_error(runtime("create", "--bundle", bundle, "--console-socket", tmp_path / "nowhere.sock", "nc"),
                    "console socket")
    _one_line_error(runtime("create", "--bundle", bundle, "nc"), "terminal")
    assert not (runtime.root / "nc").exists()
