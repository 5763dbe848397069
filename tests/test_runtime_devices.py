"""The devices cgroup's eBPF program (chapter 3, cgroup v2): built from linux.resources.devices
plus runc's allowed list, the last matching rule winning, verified and run by the real kernel.
Any cgroup2 directory can hold it — this hybrid host's /sys/fs/cgroup/unified too — so the
program is proven here; tests/test_runtime_v2.py proves the runtime attaches it on pure v2."""
import errno
import os
import stat

import pytest

from minidocker.runtime import cgroups, devices
from support import require, require_root

DENY_ALL = {"allow": False, "access": "rwm"}


def test_the_program_reads_bottom_up_like_the_spec():
    code = devices.program([DENY_ALL])
    text = devices.disassemble(code)
    assert text[:6] == ["r2 = *(u32 *)(r1 + 0)", "w2 &= 0xffff", "r3 = *(u32 *)(r1 + 0)", "w3 >>= 16",
                        "r4 = *(u32 *)(r1 + 4)", "r5 = *(u32 *)(r1 + 8)"]
    assert text[6:11] == ["if r2 != 2 goto +4", "if r4 != 10 goto +3", "if r5 != 200 goto +2", "w0 = 1", "exit"]
    assert text[-2:] == ["w0 = 0", "exit"]                 # the spec's first rule, deny all, comes last
    assert len(devices.assemble(code)) == 8 * len(code)
    allow_all = devices.program([DENY_ALL, {"allow": True, "type": "a", "access": "rwm"}])
    assert devices.disassemble(allow_all)[-3:] == ["exit", "w0 = 1", "exit"]   # a later a *:* rwm answers
    assert "w0 = 0" not in devices.disassemble(allow_all)                     # for everything runc's list did not


@pytest.fixture
def cgroup2_dir():
    """An empty cgroup2 directory of our own (on a hybrid host, in its cgroup2 tree)."""
    require_root()
    roots = [mountpoint for mountpoint, kind, _ in cgroups.mounts() if kind == "cgroup2"]
    require(roots, "no cgroup2 file system is mounted")
    directory = os.path.join("/sys/fs/cgroup" if "/sys/fs/cgroup" in roots else roots[0], f"minidocker-bpf-{os.getpid()}")
    os.mkdir(directory)
    yield directory
    os.rmdir(directory)


def _probe_in(directory, rules, nodes, tries) -> list:
    """Attach the program for `rules` to `directory`; in a child inside it, make `nodes` (name ->
    (kind, major, minor)) and open each of `tries` (name, flags): "ok" or the errno name."""
    devices.attach(directory, devices.program(rules))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
                procs.write("0")
            results = []
            for name, (kind, major, minor) in nodes.items():
                try:
                    os.mknod(name, kind | 0o600, os.makedev(major, minor))
                    results.append("ok")
                except OSError as error:
                    results.append(errno.errorcode[error.errno])
            for name, flags in tries:
                try:
                    os.close(os.open(name, flags | os.O_NONBLOCK))
                    results.append("ok")
                except OSError as error:
                    results.append(errno.errorcode[error.errno])
            os.write(write_end, " ".join(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 4096).decode().split()
    os.close(read_end)
    os.waitpid(child, 0)
    return answer


def test_a_disk_node_can_be_made_but_not_opened(cgroup2_dir, tmp_path):
    nodes = {tmp_path / "sda": (stat.S_IFBLK, 8, 0), tmp_path / "mem": (stat.S_IFCHR, 1, 1)}
    tries = [("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), (tmp_path / "sda", os.O_RDONLY),
             (tmp_path / "mem", os.O_RDONLY)]
    assert _probe_in(cgroup2_dir, [DENY_ALL], nodes, tries) == ["ok", "ok", "ok", "ok", "EPERM", "EPERM"]


def test_the_last_matching_rule_wins_and_access_must_be_within_it(cgroup2_dir, tmp_path):
    rules = [DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rw"},
             {"allow": False, "type": "c", "major": 1, "minor": -1, "access": "w"}]
    nodes = {tmp_path / "kmsg": (stat.S_IFCHR, 1, 11)}
    tries = [(tmp_path / "kmsg", os.O_RDONLY), (tmp_path / "kmsg", os.O_WRONLY), (tmp_path / "kmsg", os.O_RDWR)]
    # read: the deny "w" does not cover it, the allow "rw" does; write: the later deny wins;
    # read+write: not within "w", so the allow answers
    assert _probe_in(cgroup2_dir, rules, nodes, tries) == ["ok", "ok", "EPERM", "ok"]


def test_a_bad_rule_is_one_line():
    from minidocker.runtime.spec import SpecError
    with pytest.raises(SpecError, match="bad device rule 'x 1:1 rwm'"):
        devices.program([{"allow": True, "type": "x", "major": 1, "minor": 1}])
