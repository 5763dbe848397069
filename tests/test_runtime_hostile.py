"""Hostile root filesystems under the OCI runtime (chapter 3): whatever the image holds at /dev,
/proc, /sys, /etc/hosts, the working directory or a masked path — a symlink to the host, a FIFO,
a file where a directory belongs — the runtime creates, follows and reads nothing outside the
rootfs, and either runs the container harmlessly or refuses with one line (exit 125)."""
import os

import pytest

from oci_support import default_config, make_bundle, runtime, subreaper, with_args  # noqa: F401 (fixtures)
from support import require_root


@pytest.fixture
def host(tmp_path):
    """A directory standing for the host: nothing may appear in it."""
    path = tmp_path / "host"
    path.mkdir()
    (path / "file").write_text("host data\n")
    return path


def listing(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def run(runtime, tmp_path, rootfs, *args, change=None):
    config = with_args(default_config(rootfs), *args)
    if change:
        change(config)
    return runtime("run", "--bundle", make_bundle(tmp_path / "bundle", config), "hostile", timeout=60)


def refused(result, *words):
    assert result.returncode == 125, (result.returncode, result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_dev_symlinked_to_the_host_gets_nothing_there(tmp_path, runtime, rootfs, host, link):
    """Issue 7 item 1: make_devices used to create fd, stdin, stdout, stderr in the host directory."""
    require_root()
    os.rename(rootfs / "dev", rootfs / "dev.orig")
    os.symlink(host if link == "absolute" else "../../../../../../../.." + str(host), rootfs / "dev")
    result = run(runtime, tmp_path, rootfs, "sh", "-c", "ls /dev; echo hi > /dev/null && echo null-ok")
    assert result.returncode == 0, result.stderr
    assert "null-ok" in result.stdout and "stdout" in result.stdout.split()
    assert listing(host) == ["file"]                      # made inside the rootfs, where the link leads there
    assert (rootfs / str(host).lstrip("/")).is_dir()


def test_mount_targets_and_cwd_dangling_to_the_host_are_made_inside(tmp_path, runtime, rootfs, host):
    """A bind-mount target and the working directory that are dangling symlinks to host paths."""
    require_root()
    (tmp_path / "hosts").write_text("127.0.0.1 bundle-hosts\n")
    (rootfs / "etc/hosts").unlink(missing_ok=True)
    os.symlink(host / "new-hosts", rootfs / "etc/hosts")
    os.symlink(host / "new-dir/work", rootfs / "work")
    os.symlink(host, rootfs / "data")                      # a directory mount under a symlinked parent

    def change(config):
        config["process"]["cwd"] = "/work"
        config["mounts"] += [{"destination": "/etc/hosts", "type": "bind", "source": str(tmp_path / "hosts"),
                              "options": ["rbind", "ro"]},
                             {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs"}]
    result = run(runtime, tmp_path, rootfs, "sh", "-c", f"pwd; cat /etc/hosts; grep -c ' {host}/sub tmpfs' /proc/mounts",
                 change=change)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{host}/new-dir/work", "127.0.0.1 bundle-hosts", "1"]   # as seen inside
    assert listing(host) == ["file"]


@pytest.mark.parametrize("name", ["proc", "sys"])
def test_proc_or_sys_through_a_symlink_is_refused(tmp_path, runtime, rootfs, host, name):
    require_root()
    (rootfs / name).rmdir()
    os.symlink(host, rootfs / name)
    refused(run(runtime, tmp_path, rootfs, "true"), "ordinary directory")
    assert listing(host) == ["file"]


@pytest.mark.parametrize("path, make", [("sys", os.mkfifo), ("dev", lambda p: p.write_text("x")),
                                        ("proc", lambda p: os.symlink("/", p))])
def test_odd_files_where_directories_belong(tmp_path, runtime, rootfs, path, make):
    require_root()
    target = rootfs / path
    if target.is_dir():
        os.rename(target, rootfs / f"{path}.orig")
    make(target)
    refused(run(runtime, tmp_path, rootfs, "true"))


def test_a_mount_that_leads_back_to_the_root_is_refused(tmp_path, runtime, rootfs):
    require_root()
    os.symlink("..", rootfs / "up")
    refused(run(runtime, tmp_path, rootfs, "true", change=lambda c: c["mounts"].append(
        {"destination": "/up", "type": "tmpfs", "source": "tmpfs"})), "leads back to the rootfs")


def test_an_image_passwd_fifo_does_not_hang_the_init(tmp_path, runtime, rootfs):
    """runc-like HOME lookup reads the image's /etc/passwd: a FIFO there must not block."""
    require_root()
    (rootfs / "etc/passwd").unlink(missing_ok=True)
    os.mkfifo(rootfs / "etc/passwd")
    result = run(runtime, tmp_path, rootfs, "sh", "-c", "echo home=$HOME",
                 change=lambda c: c["process"].update(env=["PATH=/bin"]))
    assert (result.returncode, result.stdout) == (0, "home=/\n"), result.stderr


def test_masked_and_readonly_paths_are_resolved_in_the_container(tmp_path, runtime, rootfs, host):
    """A masked path that is a symlink leads inside the container; a magic link is refused."""
    require_root()
    (rootfs / "secret").write_text("image secret\n")
    os.symlink("/secret", rootfs / "masked")

    def change(config):
        config["linux"]["maskedPaths"] += ["/masked", "/no/such/path"]
        config["linux"]["readonlyPaths"] += ["/tmp"]
        config["root"]["readonly"] = False
    result = run(runtime, tmp_path, rootfs, "sh", "-c", "cat /secret | wc -c; touch /tmp/x 2>&1; echo end",
                 change=change)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "0" and "Read-only" in lines[1]
    os.symlink("/proc/self/root", rootfs / "magic")
    refused(run(runtime, tmp_path, rootfs, "true", change=lambda c: c["linux"]["maskedPaths"].append("/magic")))
