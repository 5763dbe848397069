"""Helpers every test module may import: `from support import require, require_root, ROOT`."""
import os, subprocess
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
