"""Chapter 1 on the real kernel: a process in new PID/UTS/IPC/mount/net (and user) namespaces,
inside its own root filesystem after pivot_root."""
import os, shutil, subprocess, sys, tempfile
from pathlib import Path

import pytest

from minidocker.errors import CommandNotExecutable, CommandNotFound, MinidockerError
from minidocker.runtime.namespaces import Container, IdMap, run, spawn
from support import mkrootfs, require


def output(rootfs, *args, **options):
    """(status, stdout+stderr) of a command in a new container."""
    read_end, write_end = os.pipe()
    try:
        process = spawn(Container(rootfs, list(args), stdio=(0, write_end, write_end), **options))
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as out:
        text = out.read()
    return process.wait(), text


USERNS = dict(namespaces=("user", "pid", "uts", "ipc", "mnt", "net"),
              uid_map=[IdMap(0, 100000, 65536)], gid_map=[IdMap(0, 100000, 65536)])


def test_the_command_is_pid_1_and_sees_only_its_own_processes(busybox_rootfs):
    status, text = output(busybox_rootfs, "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    pid, count = text.split()
    assert (status, pid) == (0, "1")
    assert int(count) <= 3          # sh, grep, ls: not the host's processes


def test_hostname_is_the_containers_own(busybox_rootfs):
    host = os.uname().nodename
    assert output(busybox_rootfs, "hostname", hostname="box-7") == (0, "box-7\n")
    assert os.uname().nodename == host


def test_a_mount_made_inside_is_invisible_outside(busybox_rootfs):
    before = Path("/proc/self/mountinfo").read_text()
    status, text = output(busybox_rootfs, "sh", "-c", "mount -t tmpfs inside /tmp && grep -c inside /proc/mounts")
    assert (status, text) == (0, "1\n")
    assert Path("/proc/self/mountinfo").read_text() == before


def test_a_mount_made_outside_is_invisible_inside(rootfs):
    read_end, write_end = os.pipe()
    process = spawn(Container(rootfs, ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; cat /proc/mounts"],
                              stdio=(0, write_end, write_end)))
    os.close(write_end)
    subprocess.run(["mount", "-t", "tmpfs", "outside", str(rootfs / "home")], check=True)
    try:
        (rootfs / "tmp/go").touch()
        with os.fdopen(read_end) as out:
            mounts = out.read()
        assert process.wait() == 0
    finally:
        subprocess.run(["umount", str(rootfs / "home")], check=True)
    assert "outside" not in mounts and " /proc " in mounts


def test_only_loopback_in_the_network_namespace_and_it_is_up(busybox_rootfs):
    assert output(busybox_rootfs, "ls", "/sys/class/net") == (0, "lo\n")
    assert "UP" in output(busybox_rootfs, "ip", "link", "show", "lo")[1]


def test_ipc_objects_of_the_host_are_invisible(busybox_rootfs):
    status, text = output(busybox_rootfs, "cat", "/proc/sysvipc/shm")
    assert status == 0 and len(text.splitlines()) == 1     # the header line only


def test_dev_is_minimal_and_sys_is_read_only(busybox_rootfs):
    status, text = output(busybox_rootfs, "sh", "-c", "ls /dev; echo 1 > /sys/kernel/profiling || echo refused")
    names = set(text.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx"} <= names
    assert "refused" in names and not any(n.startswith(("sd", "vd", "nvme", "mem")) for n in names)


ESCAPE_C = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
/* The classic chroot escape: chroot into a subdirectory while the cwd stays outside it, walk up
   with "..", and chroot to wherever that ends. Then look for the host-only marker. */
int main(int argc, char **argv) {
    mkdir("/escape-jail", 0755);
    if (chroot("/escape-jail") != 0) { perror("chroot"); return 2; }
    for (int i = 0; i < 64; i++) chdir("..");
    chroot(".");
    puts(access(argv[1], F_OK) == 0 ? "ESCAPED" : "contained");
    return 0;
}
"""


def test_the_chroot_escape_does_not_reach_the_host_after_pivot_root(rootfs, tmp_path):
    gcc = shutil.which("gcc")
    require(gcc, "gcc is needed to build the escape program (./course setup installs it)")
    (tmp_path / "escape.c").write_text(ESCAPE_C)
    subprocess.run([gcc, "-static", "-O2", "-o", str(rootfs / "escape"), str(tmp_path / "escape.c")], check=True)
    marker = tmp_path / "host-only-marker"
    marker.touch()
    # The trick works against a plain chroot: that is why containers don't use one.
    chrooted = subprocess.run(["chroot", str(rootfs), "/escape", str(marker)], capture_output=True, text=True)
    assert chrooted.stdout.strip() == "ESCAPED"
    assert output(rootfs, "/escape", str(marker)) == (0, "contained\n")


@pytest.fixture
def userns_rootfs():
    """A rootfs the container's root (host uid 100000) can reach: pytest's tmp dirs are 0700."""
    parent = Path(tempfile.mkdtemp(prefix="minidocker-userns-"))
    parent.chmod(0o755)
    try:
        yield mkrootfs(parent / "rootfs")
    finally:
        shutil.rmtree(parent)


def test_user_namespace_maps_container_root_to_an_unprivileged_host_uid(userns_rootfs):
    rootfs = userns_rootfs
    status, text = output(rootfs, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/mine", **USERNS)
    uid, *mapping = text.split()
    assert (status, uid, mapping) == (0, "0", ["0", "100000", "65536"])
    assert (rootfs / "tmp/mine").stat().st_uid == 100000
    status, text = output(rootfs, "sh", "-c", "touch /etc/x 2>&1; echo $?", **USERNS)
    assert text.strip().endswith("1")       # root inside, but not the owner of the host's files


def test_user_namespace_refuses_an_unreachable_rootfs_in_one_sentence(rootfs):
    with pytest.raises(MinidockerError, match="needs o\\+x"):
        run(Container(rootfs, ["true"], **USERNS))


@pytest.mark.parametrize("script, expected", [("exit 0", 0), ("exit 3", 3), ("exit 255", 255)])
def test_exit_status_propagates(busybox_rootfs, script, expected):
    assert run(Container(busybox_rootfs, ["sh", "-c", script])) == expected


def test_missing_command_is_127_and_not_executable_is_126(busybox_rootfs):
    with pytest.raises(CommandNotFound) as missing:
        run(Container(busybox_rootfs, ["no-such-command"]))
    assert missing.value.exit_code == 127 and "executable file not found" in str(missing.value)
    with pytest.raises(CommandNotExecutable) as not_executable:
        run(Container(busybox_rootfs, ["/etc/passwd"]))
    assert not_executable.value.exit_code == 126


def test_missing_and_empty_rootfs_are_refused(tmp_path):
    with pytest.raises(MinidockerError, match="no such directory"):
        run(Container(tmp_path / "nowhere", ["true"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MinidockerError, match="is empty"):
        run(Container(tmp_path / "empty", ["true"]))


def test_works_where_root_is_a_shared_mount_as_on_systemd_hosts(busybox_rootfs):
    """systemd makes / shared: without MS_PRIVATE first, pivot_root fails (EINVAL) and the
    container's mounts would propagate to the host. Reproduce that host in a mount namespace."""
    script = f"""
        mount --make-rshared /
        before=$(wc -l < /proc/self/mountinfo)
        {sys.executable} -m minidocker run --rootfs {busybox_rootfs} sh -c 'mount -t tmpfs leak /tmp && echo inside' || exit 9
        after=$(wc -l < /proc/self/mountinfo)
        grep -q ' - tmpfs leak ' /proc/self/mountinfo && echo LEAKED
        echo "$before $after"
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    result = subprocess.run(["unshare", "--mount", "--propagation", "unchanged", "sh", "-c", script],
                            capture_output=True, text=True, env=env)
    lines = result.stdout.split("\n")
    assert result.returncode == 0 and lines[0] == "inside", result.stdout + result.stderr
    before, after = lines[1].split()
    assert before == after and "LEAKED" not in result.stdout
