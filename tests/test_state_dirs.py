"""State directories are private (Docker's CVE-2021-41091): no other local user reaches a layer's
files, whatever the directories' modes were before."""
import os, shutil, stat, subprocess, sys, tempfile
from pathlib import Path

import pytest

from support import require, require_root

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def public_base():
    """A directory every user can traverse (pytest's tmp_path is 0700: it would prove nothing)."""
    require_root()
    require(shutil.which("setpriv"), "setpriv (util-linux) is needed to act as another user")
    base = Path(tempfile.mkdtemp(prefix="minidocker-modes-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base)


def _cli(base, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(base / "lib"), MINIDOCKER_RUNROOT=str(base / "run"))
    return subprocess.run([sys.executable, "-m", "minidocker", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def _as_nobody(*command):
    """`command` as nobody. Through sh: setpriv itself still holds root's capabilities while it
    execve()s, so it would reach a path nobody cannot; the shell it starts holds none."""
    return subprocess.run(NOBODY + ["sh", "-c", 'exec "$0" "$@"', *map(str, command)], capture_output=True, text=True)


def _import_and_run(base, rootfs):
    assert _cli(base, "import", rootfs, "bb:1").returncode == 0
    result = _cli(base, "run", "--rm", "bb:1", "/bin/true")
    assert result.returncode == 0, result.stderr


def test_state_directories_are_0711_0710_and_0700(public_base, busybox_rootfs):
    _import_and_run(public_base, busybox_rootfs)
    lib, run = public_base / "lib", public_base / "run"
    assert (mode(lib), mode(lib / "image"), mode(lib / "containers"), mode(run)) == (0o711, 0o700, 0o710, 0o700)


def test_old_0755_directories_are_tightened(public_base, busybox_rootfs):
    for directory in ("lib/image", "lib/containers", "run"):
        (public_base / directory).mkdir(parents=True)
        os.chmod(public_base / directory, 0o755)
    os.chmod(public_base / "lib", 0o755)
    _import_and_run(public_base, busybox_rootfs)
    assert [mode(public_base / d) for d in ("lib", "lib/image", "lib/containers", "run")] == [0o711, 0o700, 0o710, 0o700]


def test_another_user_cannot_reach_a_layers_files(public_base, busybox_rootfs):
    (public_base / "control").write_text("readable\n")
    assert _as_nobody("cat", public_base / "control").stdout == "readable\n"   # the test can tell
    _import_and_run(public_base, busybox_rootfs)
    [busybox] = (public_base / "lib/image/layers").glob("*/diff/bin/busybox")
    os.chmod(busybox, 0o4755)                  # a setuid-root shell in a layer: CVE-2021-41091's case
    for command in ([busybox, "id"], ["cat", busybox], ["ls", public_base / "lib"],
                    ["ls", public_base / "lib/image"], ["ls", public_base / "lib/containers"], ["ls", public_base / "run"]):
        result = _as_nobody(*command)
        assert result.returncode != 0 and "Permission denied" in result.stderr, (command, result)


def test_a_user_who_may_not_use_the_state_gets_one_line(public_base, busybox_rootfs):
    """The seed's §5: Docker answers an ordinary user "permission denied … Docker daemon socket";
    minidocker, daemonless, says so of its state directories — one line, the docker CLI's exit 1."""
    _import_and_run(public_base, busybox_rootfs)
    env = [f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}", f"MINIDOCKER_ROOT={public_base / 'lib'}",
           f"MINIDOCKER_RUNROOT={public_base / 'run'}", "HOME=/nonexistent"]
    for verb in (["images"], ["rmi", "bb:1"], ["system", "df"]):
        result = _as_nobody("env", *env, sys.executable, "-m", "minidocker", *verb)
        assert result.returncode == 1, (verb, result)
        assert result.stderr == (f"minidocker: permission denied while trying to use minidocker's state at "
                                 f"{public_base / 'lib'}: minidocker needs root (run it with sudo)\n"), (verb, result.stderr)
    assert "bb" in _cli(public_base, "images").stdout                 # root still can; nothing was changed
