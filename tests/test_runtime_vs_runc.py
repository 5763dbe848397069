"""Proof against the real thing: one bundle (busybox rootfs + `runc spec`'s config.json), run
under runc and under minidocker's runtime, gives the same observable results, probe by probe."""
import json

import pytest

from oci_support import runc_config, runtime, side_by_side, subreaper  # noqa: F401 (fixtures)

PROBES = {
    "id": ["id"],
    "hostname": ["hostname"],
    "capabilities": ["sh", "-c", "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status"],
    "mounts": ["cat", "/proc/mounts"],
    "ulimit": ["sh", "-c", "ulimit -n; ulimit -Hn"],
    "pid 1": ["sh", "-c", "echo $$; set -- /proc/[0-9]*; echo $#"],        # a glob: no other process
    "devices": ["ls", "/dev"],
    "signals": ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],   # a clean mask, nothing ignored
    "masked": ["sh", "-c", "cat /proc/keys 2>&1 | wc -c; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname; echo $?"],
}
V1_LIMITS = ["memory/memory.limit_in_bytes", "pids/pids.max", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us",
             "cpu/cpu.shares"]
V2_LIMITS = ["memory.max", "pids.max", "cpu.max", "cpu.weight"]
RESOURCES = {"memory": {"limit": 64 << 20}, "pids": {"limit": 42}, "cpu": {"quota": 50000, "period": 100000, "shares": 512}}


def normalise_mounts(text):
    """fstype, mount point, ro|rw of each line of /proc/mounts."""
    rows = []
    for line in text.splitlines():
        _source, target, fstype, options = line.split()[:4]
        rows.append((fstype, target, "ro" if "ro" in options.split(",") else "rw"))
    return sorted(rows)


@pytest.mark.parametrize("probe", list(PROBES))
def test_probe_matches_runc(probe, tmp_path, runtime, runc_config, busybox_rootfs):
    theirs, ours = side_by_side(tmp_path, runtime, busybox_rootfs, runc_config, PROBES[probe], probe.replace(" ", ""))
    if probe == "mounts":
        theirs, ours = normalise_mounts(theirs), normalise_mounts(ours)
    print(f"--- {probe}\nrunc: {theirs}\nours: {ours}")
    assert ours == theirs


def test_cgroup_limits_match_runc(tmp_path, runtime, runc_config, busybox_rootfs):
    from minidocker.runtime import cgroups
    files = V1_LIMITS if cgroups.layout() == "v1" else V2_LIMITS
    config = json.loads(json.dumps(runc_config))
    config["linux"]["resources"].update(RESOURCES)
    args = ["sh", "-c", " ".join(f"cat /sys/fs/cgroup/{f};" for f in files)]
    theirs, ours = side_by_side(tmp_path, runtime, busybox_rootfs, config, args, "limits")
    print(f"runc: {theirs.split()}\nours: {ours.split()}")
    assert ours == theirs
    assert str(64 << 20) in ours and "42" in ours.split()


def test_devices_cgroup_matches_runc(tmp_path, runtime, runc_config, busybox_rootfs):
    """With CAP_MKNOD granted, a disk's node can be made but not opened, as under runc; on v1 the
    rule lists match too (v2 has no list to read: the eBPF programs are compared by behaviour)."""
    from minidocker.runtime import cgroups
    config = json.loads(json.dumps(runc_config))
    for kind in ("bounding", "effective", "permitted"):
        config["process"]["capabilities"][kind].append("CAP_MKNOD")
    script = "mknod /dev/sda b 8 0 && echo made; head -c1 /dev/sda 2>&1; head -c1 /dev/zero | wc -c"
    if cgroups.layout() == "v1":
        script += "; sort /sys/fs/cgroup/devices/devices.list"
    theirs, ours = side_by_side(tmp_path, runtime, busybox_rootfs, config, ["sh", "-c", script], "devices")
    print(f"runc: {theirs}\nours: {ours}")
    assert ours == theirs
    assert ours.startswith("made\n") and "Operation not permitted" in ours and "\n1\n" in ours
