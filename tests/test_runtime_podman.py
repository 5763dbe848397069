"""A real engine drives our runtime: podman (through conmon) with `--runtime` pointing at a
launcher of `python -m minidocker.runtime`. Podman is configured for this machine as
../shared/NOTES.md says (cgroupfs, file events, no network) and keeps its storage in tmp."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PODMAN_CONF, ROOT, mkrootfs, require, require_root



def _cgroup_dirs():
    return {str(p) for p in Path("/sys/fs/cgroup").glob("*/libpod_parent/**") if p.is_dir()} | \
           {str(p) for p in Path("/sys/fs/cgroup").glob("*/libpod_parent") if p.is_dir()}


def _mounts_under(path):
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(path))]


def _processes_mentioning(text):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
                state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text.encode() in cmdline and state not in "ZX":
                found.append((int(name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    require_root()
    for tool in ("podman", "conmon", "tar"):
        require(shutil.which(tool), f"{tool} is not installed (apt-get install podman)")
    work = tmp_path_factory.mktemp("podman")
    (work / "containers.conf").write_text(PODMAN_CONF)
    launcher = work / "minidocker-runtime"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m minidocker.runtime --root {work}/runtime "$@"\n')
    launcher.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(CONTAINERS_CONF=str(work / "containers.conf"), PYTHONPATH=str(ROOT))
    base = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--storage-driver", "vfs",
            "--tmpdir", str(work / "tmp"), "--runtime", str(launcher)]
    cgroups_before = _cgroup_dirs()

    def run(*args, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([*base, *args], env=env, timeout=120, **kw)
    rootfs = mkrootfs(work / "rootfs")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    imported = run("import", "-", "localhost/busybox:latest", input=tar, text=False)
    assert imported.returncode == 0, imported.stderr
    run.work = work
    yield run
    run("rm", "--all", "--force")
    run("rmi", "--all", "--force")
    for target in reversed(_mounts_under(work)):
        subprocess.run(["umount", "-l", target])
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(work)) and time.monotonic() < deadline:   # conmon exits last
        time.sleep(0.05)
    assert not _processes_mentioning(str(work))
    while True:      # podman's own cgroups (libpod_parent/conmon): gone once conmon has exited
        left = sorted(_cgroup_dirs() - cgroups_before, key=len, reverse=True)
        for directory in left:
            try:
                os.rmdir(directory)
            except OSError:
                pass
        if not (_cgroup_dirs() - cgroups_before) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not (_cgroup_dirs() - cgroups_before)
    assert not _mounts_under(work)
    assert not list((work / "runtime").iterdir()) if (work / "runtime").exists() else True
    shutil.rmtree(work, ignore_errors=True)


def test_podman_run_echo_hi(podman):
    result = podman("run", "--rm", "--network", "none", "localhost/busybox", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr


def test_podman_gets_the_exit_status(podman):
    result = podman("run", "--rm", "--network", "none", "localhost/busybox", "sh", "-c", "exit 3")
    assert result.returncode == 3, result.stderr


def test_podman_tty_uses_the_console_socket(podman):
    result = podman("run", "--rm", "-t", "--network", "none", "localhost/busybox", "sh", "-c", "tty")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/dev/pts/0"


def test_podman_detached_stop_and_inspect(podman):
    started = podman("run", "-d", "--name", "bg", "--network", "none", "localhost/busybox", "sleep", "100")
    assert started.returncode == 0, started.stderr
    status = podman("inspect", "bg", "--format", "{{.State.Status}}")
    assert status.stdout.strip() == "running", status.stderr
    assert "bg" in podman("ps", "--format", "{{.Names}}").stdout
    stopped = podman("stop", "-t", "1", "bg")
    assert stopped.returncode == 0, stopped.stderr
    assert podman("inspect", "bg", "--format", "{{.State.Status}}").stdout.strip() == "exited"
    assert podman("rm", "bg").returncode == 0


def test_podman_runs_the_console_script(podman):
    """`pip install -e .` gives `minidocker-runtime`: what the README hands to podman's --runtime."""
    script = Path(sys.executable).parent / "minidocker-runtime"
    require(script.exists(), f"{script} is missing: `pip install -e .` (./course setup) installs it")
    # As the README types it, so with the runtime's default --root: podman 4.3 does not pass
    # --runtime-flag to `delete`, so a --root given that way would leave the state behind.
    result = podman("--runtime", str(script), "run", "--rm", "--network", "none", "localhost/busybox",
                    "sh", "-c", "echo $$ from $(hostname)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["1", "from"], result.stdout
