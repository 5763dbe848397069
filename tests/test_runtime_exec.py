"""The runtime's `exec`, `pause` and `resume` verbs, driven by podman (through conmon) with
--runtime: `podman run -d`, `exec`, `pause`, `unpause`, `stop`."""
import os, shutil, subprocess, sys

import pytest

from support import PODMAN_CONF, ROOT, mkrootfs, require, require_root


@pytest.fixture
def podman(tmp_path_factory):
    require_root()
    tmp_path = tmp_path_factory.mktemp("px")            # podman refuses a runroot over 50 characters
    for tool in ("podman", "conmon", "tar"):
        require(shutil.which(tool), f"{tool} is not installed (apt-get install podman)")
    (tmp_path / "containers.conf").write_text(PODMAN_CONF)
    launcher = tmp_path / "minidocker-runtime"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m minidocker.runtime '
                        f'--root {tmp_path}/runtime "$@"\n')
    launcher.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(CONTAINERS_CONF=str(tmp_path / "containers.conf"), PYTHONPATH=str(ROOT))
    base = ["podman", "--root", str(tmp_path / "storage"), "--runroot", str(tmp_path / "run"), "--storage-driver",
            "vfs", "--tmpdir", str(tmp_path / "tmp"), "--runtime", str(launcher)]

    def run(*args, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([*base, *args], env=env, timeout=120, **kw)
    tar = subprocess.run(["tar", "-C", str(mkrootfs(tmp_path / "rootfs")), "-c", "."], capture_output=True,
                         check=True).stdout
    assert run("import", "-", "localhost/busybox:latest", input=tar, text=False).returncode == 0
    yield run
    run("rm", "--all", "--force", "--time", "0")
    run("rmi", "--all", "--force")
    for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
        if line.split()[4].startswith(str(tmp_path)):
            subprocess.run(["umount", "-l", line.split()[4]])


def test_podman_exec_pause_and_stop_through_our_runtime(podman):
    started = podman("run", "-d", "--network", "none", "localhost/busybox", "sleep", "100")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    result = podman("exec", cid, "sh", "-c", "echo hi from $$; exit 3")
    assert result.returncode == 3 and result.stdout.startswith("hi from "), result.stderr
    assert podman("exec", "-u", "65534", "-w", "/tmp", cid, "sh", "-c", "id -u; pwd").stdout == "65534\n/tmp\n"
    assert podman("pause", cid).returncode == 0
    assert podman("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "paused"
    assert podman("unpause", cid).returncode == 0
    assert podman("exec", cid, "true").returncode == 0
    assert podman("stop", "-t", "1", cid).returncode == 0
    assert podman("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited"
