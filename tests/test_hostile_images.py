"""Images come from strangers: symlinks and odd file types where the engine and the runtime
create, read or mount things (/dev, /etc/passwd, /etc/group, /proc, /sys, the working directory,
the /etc/hostname, /etc/hosts and /etc/resolv.conf mount targets). On the engine path (`run IMAGE`), nothing
outside the image's root may be created, read, followed or hung on: a one-line error, or a
harmless run. Every run has a timeout; a sentinel host directory must stay empty."""
import os, shutil, subprocess

import pytest

from support import mkrootfs, require_root

SECRET = "host-secret-uid-4242"


@pytest.fixture
def sentinel(tmp_path):
    """A host directory an image points at: it must stay empty. And a host 'passwd' it must not read."""
    directory = tmp_path / "sentinel"
    directory.mkdir()
    (tmp_path / "host-passwd").write_text(f"root:x:4242:4242:{SECRET}:/{SECRET}:/bin/sh\n")
    yield directory
    assert list(directory.iterdir()) == [], "something was created on the host through the image"


@pytest.fixture
def hostile(minidocker, tmp_path):
    """hostile(change) -> run(*args): a busybox image changed by `change(rootfs)`, imported, runnable."""
    require_root()
    count = iter(range(100))

    def make(change):
        rootfs = mkrootfs(tmp_path / f"image{next(count)}")
        change(rootfs)
        name = f"hostile{next(count)}:latest"
        imported = minidocker("import", "-c", 'CMD ["sh"]', rootfs, name)
        assert imported.returncode == 0, imported.stderr
        shutil.rmtree(rootfs)

        def run(*args, **kw):
            return minidocker("run", "--rm", *args[:-1], name, *args[-1], timeout=60, **kw) if args else None
        return run
    return make


def replace(path, how):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    how(path)


def one_line_or_harmless(result):
    assert "Traceback" not in result.stderr
    assert result.returncode == 0 or (result.returncode in (125, 126, 127) and result.stderr.count("\n") == 1), \
        (result.returncode, result.stderr)


@pytest.mark.parametrize("target", ["/dev", "/proc", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
                                    "/tmp/workdir"])
def test_a_symlink_to_a_host_directory(hostile, sentinel, target):
    def change(rootfs):
        path = rootfs / target.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        replace(path, lambda p: p.symlink_to(sentinel))
    run = hostile(change)
    result = run("-w", "/tmp/workdir", ["sh", "-c", "echo ran"]) if target == "/tmp/workdir" else run(["sh", "-c", "echo ran"])
    one_line_or_harmless(result)


@pytest.mark.parametrize("name", ["passwd", "group"])
def test_account_files_that_point_at_the_host_are_not_read(hostile, sentinel, tmp_path, name):
    run = hostile(lambda rootfs: replace(rootfs / "etc" / name, lambda p: p.symlink_to(tmp_path / "host-passwd")))
    result = run("-u", "root:root" if name == "group" else "root", ["sh", "-c", "id -u; echo $HOME"])
    assert SECRET not in result.stdout + result.stderr and "4242" not in result.stdout
    one_line_or_harmless(result)


@pytest.mark.parametrize("kind", ["fifo", "zero", "huge", "directory"])
@pytest.mark.parametrize("name", ["passwd", "group"])
def test_account_files_of_odd_types_fail_in_one_line_without_hanging(hostile, name, kind):
    def change(rootfs):
        path = rootfs / "etc" / name
        if kind == "fifo":
            replace(path, os.mkfifo)
        elif kind == "zero":
            replace(path, lambda p: p.symlink_to("/dev/zero"))
        elif kind == "huge":
            replace(path, lambda p: p.write_bytes(b"#" * (8 << 20)))
        else:
            replace(path, lambda p: p.mkdir())
    result = hostile(change)("-u", "root:root", ["true"])
    assert result.returncode == 125 and result.stderr.count("\n") == 1, result.stderr
    if kind != "zero":      # a link to /dev/zero resolves inside the image, where there is no such file
        assert f"/etc/{name}" in result.stderr


def test_a_working_directory_that_climbs_out_stays_inside(hostile, sentinel):
    run = hostile(lambda rootfs: (rootfs / "up").symlink_to("../../../../" + str(sentinel)))
    result = run("-w", "/up/made-here", ["sh", "-c", "pwd"])
    one_line_or_harmless(result)


def test_special_files_at_mount_targets(hostile, sentinel):
    def change(rootfs):
        replace(rootfs / "etc/hostname", os.mkfifo)
        replace(rootfs / "etc/hosts", lambda p: p.symlink_to("/dev/zero"))
        replace(rootfs / "proc", lambda p: p.write_text("not a directory"))
    one_line_or_harmless(hostile(change)(["sh", "-c", "cat /etc/hostname; echo ran"]))
