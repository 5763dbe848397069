"""`./course`: where it keeps the venv. Inside a VM the checkout is often a synced folder, and the
mount table (not `stat -f`, which reports the host's filesystem over 9p) must say so, for every
provider; the venv and all state then stay on the VM's own disk."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, require, require_root
from vm_lane import in_vm

SYNCED = ["9p", "virtiofs", "vboxsf", "nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "fuse.vmhgfs-fuse", "fuseblk",
          "prl_fs", "vmhgfs"]
LOCAL = ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs"]


def paths(cwd=ROOT, course=ROOT / "course", **env) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MINIDOCKER_")} | env
    result = subprocess.run([str(course), "paths"], cwd=cwd, env=environment, capture_output=True, text=True, check=True)
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def mountinfo_with(tmp_path, fstype) -> Path:
    """This machine's mount table, plus the checkout mounted as `fstype` (what findmnt reads)."""
    table = tmp_path / "mountinfo"
    mount_point = str(ROOT).replace(" ", "\\040")
    table.write_text(Path("/proc/self/mountinfo").read_text() +
                     f"9999 1 0:999 / {mount_point} rw,relatime shared:999 - {fstype} share rw\n")
    return table


@pytest.mark.parametrize("fstype", SYNCED)
def test_a_synced_folder_keeps_the_venv_on_the_vms_disk(tmp_path, fstype):
    found = paths(MINIDOCKER_MOUNTINFO=str(mountinfo_with(tmp_path, fstype)))
    assert found["venv"] == "/opt/minidocker/venv"
    assert found["checkout"] == f"{ROOT} (a {fstype} filesystem, a VM's synced folder)"
    assert found["state"] == "/var/lib/minidocker"


@pytest.mark.parametrize("fstype", LOCAL)
def test_a_local_disk_keeps_the_venv_in_the_checkout(tmp_path, fstype):
    found = paths(MINIDOCKER_MOUNTINFO=str(mountinfo_with(tmp_path, fstype)))
    assert (found["venv"], found["checkout"]) == (f"{ROOT}/.venv", f"{ROOT} (a {fstype} filesystem)")


def test_minidocker_venv_still_wins(tmp_path):
    assert paths(MINIDOCKER_MOUNTINFO=str(mountinfo_with(tmp_path, "9p")), MINIDOCKER_VENV="/x")["venv"] == "/x"


def test_a_real_tmpfs_checkout_is_local(tmp_path):
    """A real mount, in a mount namespace of its own: findmnt asks the kernel's table."""
    require_root()
    require(shutil.which("unshare") and shutil.which("findmnt"), "needs util-linux (unshare, findmnt)")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    script = f"mount -t tmpfs tmpfs {checkout} && cp {ROOT}/course {checkout}/ && cd {checkout} && ./course paths"
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [f"checkout {checkout} (a tmpfs filesystem)", f"venv {checkout}/.venv"]


@in_vm("sh", "-c", "stat -f -c %T . && ./course paths")
def test_a_real_9p_synced_folder_in_a_vm(v2vm):
    """The bug the student's VM showed: over 9p `stat -f` says ext2/ext3. Here the checkout is
    really shared into a VM over 9p (tools/v2vm/run), as qemu and libvirt synced folders are."""
    result = v2vm.result
    assert result.returncode == 0, result.stdout + result.stderr
    stat_says, checkout, venv, _ = result.stdout.splitlines()
    assert stat_says != "9p"       # the trap: the host's filesystem type shows through
    assert checkout == f"checkout {ROOT} (a 9p filesystem, a VM's synced folder)"
    assert venv == "venv /opt/minidocker/venv"


def test_course_workbook_writes_the_students_edition(tmp_path):
    """`./course workbook DIR` needs no set-up and no root: the system's python3 and this checkout."""
    workbook = tmp_path / "workbook"
    run = lambda: subprocess.run([str(ROOT / "course"), "workbook", str(workbook)], capture_output=True, text=True,
                                 env={"PATH": os.environ["PATH"]})
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in workbook.glob("*.ipynb")) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "NotImplementedError" in (workbook / "00_what_is_docker.ipynb").read_text()
    assert run().returncode == 0, "a workbook nobody changed is simply written again"


def test_the_lab_opens_the_workbook_when_there_is_one(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    import lab
    (tmp_path / "notebooks").mkdir()
    assert f"--ServerApp.default_url=/lab/tree/notebooks/{lab.CHAPTER_0}" in lab.command(8888, "t", tmp_path)
    (tmp_path / "workbook").mkdir()
    (tmp_path / "workbook" / lab.CHAPTER_0).write_text("{}")
    assert f"--ServerApp.default_url=/lab/tree/workbook/{lab.CHAPTER_0}" in lab.command(8888, "t", tmp_path)
