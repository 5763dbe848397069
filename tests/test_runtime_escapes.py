"""Escape attempts a container with the default spec must not win, and limits that keep the host
fine: a fork bomb under pids.limit, a memory hog under memory.limit."""
import json
import os
import time
from pathlib import Path

import pytest

from oci_support import default_config, make_bundle, runtime, subreaper, with_args  # noqa: F401
from support import require_root


@pytest.fixture
def attempt(tmp_path, runtime, busybox_rootfs):
    """Run a shell snippet in a default container; return (exit status, output)."""
    require_root()
    count = iter(range(1000))

    def run(script, config=None):
        config = with_args(config or default_config(busybox_rootfs), "sh", "-c", script + " 2>&1")
        cid = f"esc{next(count)}"
        result = runtime("run", "--bundle", make_bundle(tmp_path / cid, config), cid, timeout=120)
        return result.returncode, result.stdout + result.stderr
    return run


def test_cannot_write_sysrq_trigger(attempt):
    status, out = attempt("echo h > /proc/sysrq-trigger && echo WROTE")
    assert "WROTE" not in out
    if os.path.exists("/proc/sysrq-trigger"):
        assert "Read-only" in out


def test_cannot_mount(attempt):
    status, out = attempt("mkdir -p /dev/shm/m; mount -t tmpfs x /dev/shm/m && echo MOUNTED; "
                          "mount -o remount,rw / && echo REMOUNTED; mount -t proc proc /dev/shm/m && echo PROC")
    assert "MOUNTED" not in out and "REMOUNTED" not in out and "PROC" not in out
    assert "not permitted" in out.lower() or "permission denied" in out.lower()


def test_cannot_make_or_read_a_disk_device(attempt):
    status, out = attempt("exec 2>&1; mknod /dev/sda b 8 0 && echo MADE; echo read=$(head -c 512 /dev/sda 2>/dev/null | wc -c); "
                          "mknod /dev/shm/sda b 8 0 && echo MADE2; echo listing; ls -1 /dev /dev/shm")
    before, _, listing = out.partition("listing\n")
    assert "MADE" not in before and "read=0" in before
    assert "Operation not permitted" in before
    assert "sda" not in listing.split() and "null" in listing.split()    # ls really listed /dev: the check can fail


def test_cannot_load_a_kernel_module(attempt):
    status, out = attempt("printf '\\177ELF' > /dev/shm/evil.ko; insmod /dev/shm/evil.ko && echo LOADED; "
                          "grep CapBnd /proc/self/status")
    assert "LOADED" not in out
    bounding = int(out.split("CapBnd:")[1].split()[0], 16)
    assert not bounding & (1 << 16)                 # CAP_SYS_MODULE is gone for good (this kernel may lack modules)


def test_cannot_see_host_pids(attempt):
    status, out = attempt("echo pid=$$; ls /proc | grep -c '^[0-9]*$'; ps -o pid,comm | tail -n +2")
    lines = out.splitlines()
    assert lines[0] == "pid=1"
    assert int(lines[1]) <= 4                       # sh, ls, grep (and maybe ps)
    host_pids = sum(name.isdigit() for name in os.listdir("/proc"))
    assert host_pids > 20                           # the host has many more


def test_cannot_write_sys_or_proc_sys(attempt):
    status, out = attempt("echo 1 > /sys/kernel/profiling && echo SYS; echo 1 > /proc/sys/vm/drop_caches && echo PROCSYS; "
                          "touch /sys/x && echo TOUCH; touch /etc/x && echo ROOTFS; echo end")
    assert "SYS" not in out.replace("SYSTEM", "") and "PROCSYS" not in out and "TOUCH" not in out
    assert "ROOTFS" not in out                      # root.readonly
    assert "Read-only file system" in out


def test_fork_bomb_is_capped_by_pids_limit(tmp_path, runtime, busybox_rootfs):
    require_root()
    config = with_args(default_config(busybox_rootfs), "sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 30")
    config["linux"]["resources"]["pids"] = {"limit": 20}
    bundle = make_bundle(tmp_path / "bomb", config)
    with open(tmp_path / "out", "w") as out:
        runtime("run", "-d", "--bundle", bundle, "bomb", check=True, stdout=out, stderr=out, capture_output=False)
    time.sleep(1.5)
    cgroup_path = json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]
    from minidocker.runtime import cgroups
    count = len(cgroups.lookup(cgroup_path).pids())
    assert 1 <= count <= 20
    pid = os.fork()                                 # the host can still fork
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    runtime("delete", "--force", "bomb", check=True)


def test_memory_hog_is_killed_at_its_limit(attempt, busybox_rootfs):
    config = default_config(busybox_rootfs)
    config["linux"]["resources"]["memory"] = {"limit": 32 << 20}
    status, out = attempt("tail /dev/zero; echo status=$?", config)
    assert "status=137" in out                      # the OOM killer's SIGKILL, inside the container
    assert Path("/proc/self/status").exists()        # and we are fine


def test_devices_cgroup_stops_a_disk_even_with_cap_mknod(attempt, busybox_rootfs):
    """v1: devices.deny/allow; v2: the eBPF program (tests/test_runtime_v2.py runs this in the VM)."""
    config = default_config(busybox_rootfs)
    for kind in ("bounding", "effective", "permitted"):
        config["process"]["capabilities"][kind].append("CAP_MKNOD")
    status, out = attempt("mknod /dev/sda b 8 0 && echo NODE-MADE; head -c 512 /dev/sda > /dev/null && echo DISK-READ;"
                          " echo ok > /dev/null && echo NULL-OK", config)          # /dev/shm would be nodev
    assert "NODE-MADE" in out                       # creating a node is allowed ("b *:* m") ...
    assert "DISK-READ" not in out and "Operation not permitted" in out   # ... opening it is not
    assert "NULL-OK" in out
