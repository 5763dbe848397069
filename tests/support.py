"""Helpers every test module may import: `from support import require, require_root, ROOT`."""
import os, platform, shutil, subprocess, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_KERNEL = os.environ.get("MINIDOCKER_REQUIRE_KERNEL") == "1"
CGROUP_EXPECT = os.environ.get("MINIDOCKER_CGROUP_EXPECT")  # "v2" inside the VM: assert it, don't recurse
V2VM = ROOT / "tools/v2vm/run"


def require(condition, reason):
    """Skip when a kernel feature or peer is missing; in CI (MINIDOCKER_REQUIRE_KERNEL=1) fail."""
    if condition:
        return
    if REQUIRE_KERNEL:
        pytest.fail(f"required but unavailable: {reason}")
    pytest.skip(reason)


def on_host_network(argv: list) -> list:
    """argv run in the host's network namespace, for what needs the real network (a Debian
    mirror): the session runs in a namespace of its own (conftest.pytest_configure)."""
    host = os.environ.get("MINIDOCKER_TEST_HOST_NETNS")
    return ["nsenter", f"--net={host}", "--", *argv] if host else list(argv)


def require_root():
    require(os.geteuid() == 0, "needs root (run the tests with sudo, or in the Vagrant VM)")


def pytest_in_cgroup_v2_vm(*pytest_args, vm_timeout=300, timeout=330):
    """Boot a pure-cgroup-v2 kernel under qemu (tools/v2vm/run) and run pytest there on
    `pytest_args`, strictly: MINIDOCKER_REQUIRE_KERNEL=1, and every test must pass (none may skip:
    deselect what cannot run on v2 with -k and say why). The calling test runs inside too, where
    MINIDOCKER_CGROUP_EXPECT=v2 makes this function check the cgroup layout instead of booting again,
    so every VM run proves it really was on v2. Keep it focused: Python is ~10x slower in the VM."""
    if CGROUP_EXPECT:
        from minidocker.runtime import cgroups
        assert cgroups.layout() == CGROUP_EXPECT, f"expected a {CGROUP_EXPECT} host, detected {cgroups.layout()}"
        return
    require_root()
    require(shutil.which("qemu-system-" + platform.machine()) and list(Path("/boot").glob("vmlinuz-*")),
            "the pure cgroup v2 VM needs qemu and Debian's kernel (./course test installs them)")
    caller = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]      # "path::name (call)"
    command = [str(V2VM), "-t", str(vm_timeout), "-e", "MINIDOCKER_CGROUP_EXPECT=v2",
               "-e", "MINIDOCKER_REQUIRE_KERNEL=1", "-e", "PYTHONDONTWRITEBYTECODE=1", "--",
               sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", caller, *pytest_args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    print(f"v2 VM run took {time.monotonic() - started:.0f}s\n{result.stdout[-3000:]}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and not any(word in summary for word in ("skipped", "failed", "error", "xfail")), \
        result.stdout[-6000:]


def mkrootfs(path):
    """A busybox root filesystem at `path`, made the way ./course setup makes the default one."""
    subprocess.run([str(ROOT / "scripts/mkrootfs-busybox"), str(path)], check=True)
    return path


# podman configured for these machines (../shared/NOTES.md): cgroupfs, file events, no network
# namespace of its own, ulimits it is allowed to set (CAP_SYS_RESOURCE is missing here).
PODMAN_CONF = """[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def processes() -> dict:
    """{pid: (state, parent pid)} of every process, from /proc/PID/stat."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
            table[int(name)] = (state, int(ppid))
    return table
