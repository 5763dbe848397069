"""Docker's defaults on the engine path: what an engine container (`run IMAGE`) and a `--rootfs`
container may do, against the escape list, side by side with podman's defaults; the flags that
change them; and a real Debian userland that needs the 14 capabilities."""
import os, shutil, subprocess, sys, tempfile
from pathlib import Path

import pytest

from support import PODMAN_CONF, ROOT, mkrootfs, on_host_network, require, require_root

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
/* probe keyctl | probe ptrace PID | probe userfaultfd: print what the kernel answered. */
int main(int argc, char **argv) {
    long r = -1;
    if (!strcmp(argv[1], "keyctl")) r = syscall(SYS_add_key, "user", "probe", "x", 1, -2);
    else if (!strcmp(argv[1], "ptrace")) r = ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0);
    else if (!strcmp(argv[1], "userfaultfd")) r = syscall(SYS_userfaultfd, 0);
    printf(r < 0 ? "%s refused: %s\n" : "%s ESCAPED\n", argv[1], strerror(errno));
    return 0;
}
"""
ESCAPES = """
echo h > /proc/sysrq-trigger && echo ESCAPED sysrq
mount -t tmpfs x /tmp && echo ESCAPED mount
mknod /tmp/disk b {disk} && head -c 1 /tmp/disk > /dev/null && echo ESCAPED disk
printf '\\177ELF' > /tmp/evil.ko; insmod /tmp/evil.ko && echo ESCAPED module
echo processes $(ls /proc | grep -c '^[0-9]')
echo 0 > /sys/kernel/profiling && echo ESCAPED sys
cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness && echo ESCAPED procsys
unshare -U true && echo ESCAPED userns
/probe keyctl; /probe userfaultfd; /probe ptrace {host_pid}
grep -E 'CapEff|Seccomp:|NoNewPrivs' /proc/self/status
for p in {masked}; do echo "masked $p $(cat $p 2>/dev/null | wc -c) $(ls $p 2>/dev/null | wc -l)"; done
""".strip()
# What podman 4.3 masks too (it adds /sys/fs/selinux and /sys/dev/block; Docker adds /proc/interrupts
# and powercap): the masked paths both engines share, compared inside one container of each.
SHARED_MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                 "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]


def root_disk() -> str:
    """major minor of a real disk of this host (not a loop or ram device)."""
    for dev in sorted(Path("/sys/block").iterdir()):
        if not dev.name.startswith(("loop", "ram", "zram")):
            return (dev / "dev").read_text().strip().replace(":", " ")
    return "8 0"


@pytest.fixture(scope="module")
def probe_rootfs(tmp_path_factory):
    """A busybox rootfs with /probe (a static C program), readable by everyone."""
    require_root()
    gcc = shutil.which("gcc")
    require(gcc, "gcc is needed to build the probe (./course setup installs it)")
    work = tmp_path_factory.mktemp("probe")
    work.chmod(0o755)
    rootfs = mkrootfs(work / "rootfs")
    (work / "probe.c").write_text(PROBE_C)
    subprocess.run([gcc, "-static", "-O2", "-o", str(rootfs / "probe"), str(work / "probe.c")], check=True)
    return rootfs


@pytest.fixture
def engine(minidocker, probe_rootfs):
    assert minidocker("import", "-c", 'CMD ["sh"]', probe_rootfs, "probe:latest").returncode == 0
    return minidocker


def escapes_script(masked=SHARED_MASKED) -> str:
    return ESCAPES.format(disk=root_disk(), host_pid=os.getpid(), masked=" ".join(masked))


def report(text: str) -> dict:
    lines = text.splitlines()
    status = dict(line.split(":\t", 1) for line in lines if line.startswith(("CapEff", "Seccomp:", "NoNewPrivs")))
    masked = sorted(line for line in lines if line.startswith("masked "))
    return {"escaped": [line for line in lines if "ESCAPED" in line], "status": status, "masked": masked,
            "processes": next(int(line.split()[1]) for line in lines if line.startswith("processes"))}


@pytest.fixture(scope="module")
def podman(probe_rootfs, tmp_path_factory):
    """podman with runc and its own defaults, on a private store, with the probe image."""
    for tool in ("podman", "runc", "tar"):
        require(shutil.which(tool), f"{tool} is not installed (apt-get install podman runc)")
    work = Path(tempfile.mkdtemp(prefix="md-podman-"))   # short: podman refuses a runroot of 50+ characters
    (work / "containers.conf").write_text(PODMAN_CONF)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["CONTAINERS_CONF"] = str(work / "containers.conf")
    base = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--storage-driver", "vfs",
            "--tmpdir", str(work / "tmp"), "--runtime", "runc"]

    def run(*args, **kw):
        return subprocess.run([*base, *args], env=env, capture_output=True, timeout=120, **kw)
    tar = subprocess.run(["tar", "-C", str(probe_rootfs), "-c", "."], capture_output=True, check=True).stdout
    assert run("import", "-", "localhost/probe:latest", input=tar).returncode == 0
    yield run
    run("rm", "--all", "--force")
    run("rmi", "--all", "--force")
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if line.split()[4].startswith(str(work))]
    for target in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", target])
    shutil.rmtree(work, ignore_errors=True)


def test_the_escape_list_fails_in_engine_and_rootfs_containers_as_in_podmans(engine, probe_rootfs, podman):
    script = escapes_script()
    image = engine("run", "--rm", "probe", "sh", "-c", script)
    bare = engine("run", "--rootfs", probe_rootfs, "sh", "-c", script)
    peer = podman("run", "--rm", "--network", "none", "localhost/probe", "sh", "-c", script, text=True)
    results = {name: report(r.stdout + r.stderr) for name, r in (("image", image), ("rootfs", bare), ("podman", peer))}
    for name, found in results.items():    # podman's own profile (containers-common) allows unshare; Docker's does not
        allowed = ["ESCAPED userns"] if name == "podman" else []
        assert found["escaped"] == allowed, (name, found["escaped"])
        assert found["processes"] <= 5, name           # sh, ls, grep, a subshell: not the host's hundreds
    assert results["image"]["status"] == results["rootfs"]["status"] == results["podman"]["status"] == \
        {"CapEff": "00000000a80425fb", "Seccomp": "2", "NoNewPrivs": "0"}
    assert results["image"]["masked"] == results["rootfs"]["masked"] == results["podman"]["masked"]
    assert "keyctl refused" in image.stdout and "ptrace refused" in image.stdout


def test_dockers_own_masked_paths(engine):
    result = engine("run", "--rm", "probe", "sh", "-c", "wc -c < /proc/interrupts; ls /sys/devices/virtual/powercap | wc -l")
    assert result.stdout.split()[0] == "0"


def test_privileged_gives_everything_back(engine):
    result = engine("run", "--rm", "--privileged", "probe", "sh", "-c",
                    "grep -E 'CapEff|Seccomp:' /proc/self/status; unshare -U true && echo userns; "
                    "mount -t tmpfs x /tmp && echo mounted; wc -c < /proc/interrupts; ls /dev/" + os.path.basename(
                        next(p for p in sorted(Path('/sys/block').iterdir()) if not p.name.startswith(('loop', 'ram', 'zram')))))
    lines = result.stdout.split()
    assert int(result.stdout.split("CapEff:")[1].split()[0], 16) & (1 << 21)       # CAP_SYS_ADMIN among all
    assert "Seccomp:\t0" in result.stdout and "userns" in lines and "mounted" in lines
    assert lines[-2] != "0"                        # /proc/interrupts is not masked


def test_cap_add_cap_drop_and_seccomp_follow_the_capabilities(engine):
    dropped = engine("run", "--rm", "--cap-drop", "ALL", "--cap-add", "chown", "probe", "sh", "-c",
                     "grep CapEff /proc/self/status; chown 1 /tmp && echo chowned; ping -c1 -W1 127.0.0.1 || echo noping")
    assert "0000000000000001" in dropped.stdout and "chowned" in dropped.stdout and "noping" in dropped.stdout
    admin = engine("run", "--rm", "--cap-add", "SYS_ADMIN", "probe", "sh", "-c", "mount -t tmpfs x /tmp && echo mounted")
    assert admin.stdout == "mounted\n"
    pinged = engine("run", "--rm", "probe", "ping", "-c1", "-W2", "127.0.0.1")
    assert pinged.returncode == 0, pinged.stdout + pinged.stderr      # CAP_NET_RAW is one of the 14


def test_security_opts(engine, tmp_path):
    unconfined = engine("run", "--rm", "--security-opt", "seccomp=unconfined", "probe", "grep", "Seccomp:", "/proc/self/status")
    assert unconfined.stdout.split() == ["Seccomp:", "0"]
    nnp = engine("run", "--rm", "--security-opt", "no-new-privileges", "probe", "grep", "NoNewPrivs", "/proc/self/status")
    assert nnp.stdout.split() == ["NoNewPrivs:", "1"]
    profile = tmp_path / "allow-all-but-mkdir.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], '
                       '"action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}')
    custom = engine("run", "--rm", "--security-opt", f"seccomp={profile}", "probe", "sh", "-c",
                    "mkdir /tmp/x || echo refused; unshare -U true && echo userns")
    assert "refused" in custom.stdout and "userns" in custom.stdout
    readonly = engine("run", "--rm", "--read-only", "probe", "sh", "-c", "touch /x || echo ro; touch /dev/shm/x && echo shm")
    assert readonly.stdout.split() == ["ro", "shm"]


@pytest.mark.parametrize("args, message", [
    (("--cap-add", "NOPE"), 'unknown capability: "CAP_NOPE"'),
    (("--security-opt", "seccomp"), 'Invalid --security-opt: "seccomp"'),
    (("--security-opt", "bogus=1"), 'invalid --security-opt 2: "bogus=1"'),
    (("--security-opt", "seccomp=/nonexistent.json"), "opening seccomp profile (/nonexistent.json) failed"),
    (("--memory-swap", "100m"), "You should always set the Memory limit when using Memoryswap limit"),
    (("-m", "100m", "--memory-swap", "50m"), "Minimum memoryswap limit should be larger than memory limit"),
    (("-m", "1m"), "Minimum memory limit allowed is 6MB"),
])
def test_bad_values_get_dockers_messages(engine, args, message):
    result = engine("run", "--rm", *args, "probe", "true")
    assert result.returncode == 125 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_memory_swap_is_twice_memory_by_default_and_minus_one_unlimited(engine):
    read = "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo $(( $(cat /sys/fs/cgroup/memory.swap.max) + $(cat /sys/fs/cgroup/memory.max) ))"
    assert engine("run", "--rm", "-m", "64m", "probe", "sh", "-c", read).stdout.strip() == str(128 << 20)
    assert engine("run", "--rm", "-m", "64m", "--memory-swap", "96m", "probe", "sh", "-c", read).stdout.strip() == str(96 << 20)
    unlimited = engine("run", "--rm", "-m", "64m", "--memory-swap", "-1", "probe", "sh", "-c", read)
    assert int(unlimited.stdout.split()[0]) > 1 << 40 if unlimited.stdout.strip().isdigit() else "max" in unlimited.stdout


def test_rootfs_honours_the_flags_it_used_to_ignore(minidocker, probe_rootfs):
    result = minidocker("run", "--rootfs", probe_rootfs, "-u", "nobody", "--pids-limit", "10", "-m", "20m", "sh", "-c",
                        "id -u; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert result.stdout.split() == ["65534", "10"], result.stderr


def test_supplementary_groups(minidocker, tmp_path):
    rootfs = mkrootfs(tmp_path / "groups")
    with open(rootfs / "etc/passwd", "a") as f:
        f.write("app:x:1000:1000:app:/home/app:/bin/sh\n")
    with open(rootfs / "etc/group", "a") as f:
        f.write("app:x:1000:\nwheel:x:10:root,app\naudio:x:29:app\nstaff:x:50:\n")
    assert minidocker("import", rootfs, "groups:latest").returncode == 0
    assert minidocker("run", "--rm", "-u", "app", "groups", "id", "-G").stdout.split() == ["1000", "10", "29"]
    assert minidocker("run", "--rm", "-u", "app", "--group-add", "staff", "--group-add", "4242", "groups",
                      "id", "-G").stdout.split() == ["1000", "10", "29", "50", "4242"]
    assert minidocker("run", "--rm", "-u", "app:staff", "groups", "id", "-G").stdout.split() == ["50"]
    missing = minidocker("run", "--rm", "--group-add", "nope", "groups", "true")
    assert missing.returncode == 125 and "Unable to find group nope" in missing.stderr


@pytest.fixture(scope="session")
def debian(tmp_path_factory):
    """debian:bookworm, made offline by scripts/mkimage-debian (debootstrap), in a session store."""
    require_root()
    require(shutil.which("debootstrap") or os.path.exists("/usr/sbin/debootstrap"), "debootstrap is not installed")
    state = tmp_path_factory.mktemp("debian-state")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(state / "lib"), MINIDOCKER_RUNROOT=str(state / "run"), PYTHON=sys.executable)
    made = subprocess.run(on_host_network([str(ROOT / "scripts/mkimage-debian")]), env=env, capture_output=True, text=True, timeout=600)
    require(made.returncode == 0, f"mkimage-debian failed (is the Debian mirror reachable?): {made.stderr[-500:]}")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "minidocker", *args], env=env, capture_output=True, text=True,
                              timeout=120)
    return run


def test_a_debian_userland_works_with_the_14_capabilities(debian):
    script = ("touch /tmp/f && chown nobody:nogroup /tmp/f && stat -c %U /tmp/f; "
              "su -s /bin/sh -c 'id -un' nobody; apt-get --version | head -1; "
              "grep CapEff /proc/self/status")
    result = debian("run", "--rm", "debian:bookworm", "bash", "-c", script)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines[0] == "nobody" and lines[1] == "nobody" and lines[2].startswith("apt ")
    assert lines[3].split() == ["CapEff:", "00000000a80425fb"]


def test_a_command_that_is_not_executable_is_126(engine):
    result = engine("run", "--rm", "probe", "/etc/passwd")
    assert result.returncode == 126, result.stderr
