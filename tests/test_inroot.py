"""runtime.inroot: paths inside an image's root never lead outside it, and reads never hang."""
import os

import pytest

from minidocker.runtime import inroot, libc
from support import require_root


@pytest.fixture
def image(tmp_path):
    root, host = tmp_path / "root", tmp_path / "host"
    root.mkdir(), host.mkdir()
    (host / "secret").write_text("host data\n")
    return root, host


def test_reads_only_regular_files_inside_the_root(image):
    root, host = image
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    os.symlink(host / "secret", root / "etc/group")                 # absolute: resolved in the root
    os.symlink("../../../../../../" + str(host / "secret"), root / "etc/shadow")
    os.mkfifo(root / "etc/fifo")
    os.symlink("/dev/zero", root / "etc/zero")
    (root / "big").write_bytes(b"x" * 2048)
    assert inroot.read_file_in_root(root, "/etc/passwd").startswith(b"root:")
    assert inroot.read_file_in_root(root, "/etc/group") is None
    assert inroot.read_file_in_root(root, "/etc/shadow") is None
    with pytest.raises(inroot.UnsafePath, match="not a regular file"):
        inroot.read_file_in_root(root, "/etc/fifo")                 # returns at once, never hangs
    assert inroot.read_file_in_root(root, "/etc/zero") is None      # /dev/zero of the root: absent
    with pytest.raises(inroot.UnsafePath, match="larger than"):
        inroot.read_file_in_root(root, "/big", limit=1024)


def test_creates_only_inside_the_root(image):
    root, host = image
    os.symlink(host, root / "dev")                                  # /dev -> a host directory
    os.symlink("../../..", root / "up")
    for path in ("/dev/pts", "/up/x/y", "/../../escape"):
        os.close(inroot.mkdir_in_root(root, path))
    os.close(inroot.touch_in_root(root, "/dev/null"))
    assert sorted(os.listdir(host)) == ["secret"]
    assert (root / str(host).lstrip("/") / "pts").is_dir()         # the dangling link's target, made inside
    assert (root / "x/y").is_dir() and (root / "escape").is_dir()
    with pytest.raises(inroot.UnsafePath):
        inroot.touch_in_root(root, "/")


def test_a_mount_lands_on_the_descriptor_inside_the_root(image, tmp_path):
    require_root()
    root, host = image
    os.symlink(host, root / "mnt")
    pid = os.fork()
    if pid == 0:                                     # a private mount namespace: nothing reaches the host
        try:
            libc.unshare(libc.CLONE_NEWNS)
            libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
            fd = inroot.mkdir_in_root(root, "/mnt")       # opened in the namespace that mounts on it
            libc.mount("tmpfs", inroot.fd_path(fd), "tmpfs")
            inside = os.path.ismount(root / str(host).lstrip("/"))
            os._exit(0 if inside and not os.path.ismount(host) else 1)
        except BaseException:
            os._exit(2)
    assert os.waitpid(pid, 0)[1] == 0
