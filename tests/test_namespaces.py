"""Chapter 1 on the real kernel, through the command line as a user types it: `minidocker run
--rootfs DIR` runs a process in new PID/UTS/IPC/mount/net namespaces inside its own root
filesystem after pivot_root (the engine's bundle and chapter 3's runtime, with Docker's defaults).
The chapter's own teaching launcher, user namespaces included, is checked by running the notebook
(tests/test_literate.py: its "check your work" cell)."""
import os, shutil, subprocess, sys
from pathlib import Path

from support import require


def output(minidocker, rootfs, *args):
    """(status, stdout+stderr) of a command in a new container made from `rootfs`."""
    result = minidocker("run", "--rootfs", rootfs, *args, stderr=subprocess.STDOUT, capture_output=False,
                        stdout=subprocess.PIPE)
    return result.returncode, result.stdout


def test_the_command_is_pid_1_and_sees_only_its_own_processes(minidocker, busybox_rootfs):
    status, text = output(minidocker, busybox_rootfs, "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    pid, count = text.split()
    assert (status, pid) == (0, "1")
    assert int(count) <= 3          # sh, grep, ls: not the host's processes


def test_hostname_is_the_containers_own(minidocker, busybox_rootfs):
    host = os.uname().nodename
    assert output(minidocker, busybox_rootfs, "-h", "box-7", "hostname") == (0, "box-7\n")
    assert os.uname().nodename == host


def test_a_mount_made_inside_is_invisible_outside(minidocker, busybox_rootfs):
    status, text = output(minidocker, busybox_rootfs, "--cap-add", "SYS_ADMIN", "sh", "-c",
                          "mount -t tmpfs inside-7 /tmp && grep -c inside-7 /proc/mounts")
    assert (status, text) == (0, "1\n")
    assert " inside-7 " not in Path("/proc/self/mountinfo").read_text()    # (other runs may mount meanwhile)


def test_only_loopback_in_the_network_namespace_and_it_is_up(minidocker, busybox_rootfs):
    none = ("--network", "none")              # Docker's default, the bridge, adds eth0 (chapter 6b)
    assert output(minidocker, busybox_rootfs, *none, "ls", "/sys/class/net") == (0, "lo\n")
    assert "UP" in output(minidocker, busybox_rootfs, *none, "ip", "link", "show", "lo")[1]


def test_ipc_objects_of_the_host_are_invisible(minidocker, busybox_rootfs):
    status, text = output(minidocker, busybox_rootfs, "cat", "/proc/sysvipc/shm")
    assert status == 0 and len(text.splitlines()) == 1     # the header line only


def test_dev_is_minimal_and_sys_is_read_only(minidocker, busybox_rootfs):
    status, text = output(minidocker, busybox_rootfs, "sh", "-c", "ls /dev; echo 1 > /sys/kernel/profiling || echo refused")
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


def test_the_chroot_escape_does_not_reach_the_host_after_pivot_root(minidocker, rootfs, tmp_path):
    gcc = shutil.which("gcc")
    require(gcc, "gcc is needed to build the escape program (./course setup installs it)")
    (tmp_path / "escape.c").write_text(ESCAPE_C)
    subprocess.run([gcc, "-static", "-O2", "-o", str(rootfs / "escape"), str(tmp_path / "escape.c")], check=True)
    marker = tmp_path / "host-only-marker"
    marker.touch()
    # The trick works against a plain chroot: that is why containers don't use one.
    chrooted = subprocess.run(["chroot", str(rootfs), "/escape", str(marker)], capture_output=True, text=True)
    assert chrooted.stdout.strip() == "ESCAPED"
    assert output(minidocker, rootfs, "/escape", str(marker)) == (0, "contained\n")


def test_exit_status_propagates(minidocker, busybox_rootfs):
    for script, expected in (("exit 0", 0), ("exit 3", 3), ("exit 255", 255)):
        assert output(minidocker, busybox_rootfs, "sh", "-c", script)[0] == expected


def test_missing_command_is_127_and_not_executable_is_126(minidocker, busybox_rootfs):
    status, text = output(minidocker, busybox_rootfs, "no-such-command")
    assert status == 127 and "executable file not found" in text
    assert output(minidocker, busybox_rootfs, "/etc/passwd")[0] == 126


def test_works_where_root_is_a_shared_mount_as_on_systemd_hosts(busybox_rootfs, tmp_path):
    """systemd makes / shared: without MS_PRIVATE first, pivot_root fails (EINVAL) and the
    container's mounts would propagate to the host. Reproduce that host in a mount namespace."""
    script = f"""
        mount --make-rshared /
        before=$(grep -c '{busybox_rootfs}' /proc/self/mountinfo)
        {sys.executable} -m minidocker run --rootfs {busybox_rootfs} --cap-add SYS_ADMIN sh -c 'mount -t tmpfs leak /tmp && echo inside' || exit 9
        after=$(grep -c '{busybox_rootfs}' /proc/self/mountinfo)
        grep -q ' - tmpfs leak ' /proc/self/mountinfo && echo LEAKED
        echo "$before $after"
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    result = subprocess.run(["unshare", "--mount", "--propagation", "unchanged", "sh", "-c", script],
                            capture_output=True, text=True, env=env)
    lines = result.stdout.split("\n")
    assert result.returncode == 0 and lines[0] == "inside", result.stdout + result.stderr
    before, after = lines[1].split()
    assert before == after and "LEAKED" not in result.stdout


def test_remounting_sys_needs_cap_sys_admin_which_docker_defaults_drop(minidocker, busybox_rootfs):
    """Chapter 1, section 1.9 and exercise 3: a read-only /sys is read-only only for a root without
    CAP_SYS_ADMIN (the chapter's bare launcher, with every capability, remounts it)."""
    script = "mount -o remount,rw /sys 2>/dev/null && echo remounted || echo refused"
    assert output(minidocker, busybox_rootfs, "sh", "-c", script) == (0, "refused\n")
    assert output(minidocker, busybox_rootfs, "--cap-add", "SYS_ADMIN", "sh", "-c", script) == (0, "remounted\n")
