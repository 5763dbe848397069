"""Helpers for the OCI runtime tests (test_oci_runtime, test_runtime_*): bundles, the runtime
under a private --root, and reaping the orphaned container inits (the pytest process is made a
child subreaper, as conmon is; the host's PID 1 here does not reap orphans)."""
import copy
import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, processes, require, require_root

PR_SET_CHILD_SUBREAPER = 36


def env():
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    e["PYTHONPATH"] = str(ROOT)
    return e


def default_config(rootfs, args=("true",)):
    from minidocker.runtime.spec import default_spec
    config = default_spec()
    config["root"]["path"] = str(rootfs)
    config["process"]["terminal"] = False
    config["process"]["args"] = list(args)
    return config


def make_bundle(path, config) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(config)
    # a parent of our own: other test sessions on this machine may use minidocker/ at the same time
    config.setdefault("linux", {}).setdefault("cgroupsPath", f"minidocker-t{os.getpid()}/{path.name}")
    (path / "config.json").write_text(json.dumps(config, indent=1))
    return path


class Runtime:
    """`python -m minidocker.runtime --root ROOT ...` (or another runtime binary with the same CLI)."""

    def __init__(self, root, argv=None):
        self.root = Path(root)
        self.argv = argv or [sys.executable, "-m", "minidocker.runtime"]

    def __call__(self, *args, check=False, timeout=60, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        result = subprocess.run([*self.argv, "--root", str(self.root), *map(str, args)], env=env(),
                                timeout=timeout, **kw)
        if check:
            assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result

    def create(self, bundle, cid, out, **kw):
        """create with the container's stdio on a file (a pipe would keep subprocess waiting)."""
        with open(out, "w") as f:
            return self("create", "--bundle", bundle, cid, stdout=f, stderr=subprocess.STDOUT,
                        capture_output=False, **kw)

    def state(self, cid):
        result = self("state", cid, check=True)
        return json.loads(result.stdout)

    def wait_status(self, cid, status, timeout=10):
        deadline = time.monotonic() + timeout
        while self.state(cid)["status"] != status:
            assert time.monotonic() < deadline, f"{cid} never became {status}"
            time.sleep(0.02)


def reap():
    from minidocker.runtime.commands import reap_orphans
    reap_orphans()


def live_children():
    """Processes (not zombies) whose parent is this test process."""
    from vm_lane import LANE                # its runner works in the background on purpose
    me, lane = os.getpid(), LANE.pid()
    return [pid for pid, (state, ppid) in processes().items() if ppid == me and state not in "ZX" and pid != lane]


@pytest.fixture
def subreaper():
    """Make this process a subreaper for the test; afterwards reap and check nothing is left."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    yield
    deadline = time.monotonic() + 5
    while live_children() and time.monotonic() < deadline:
        reap()
        time.sleep(0.02)
    left = live_children()
    reap()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    assert not left, f"processes left behind: {left}"


@pytest.fixture
def runtime(tmp_path, subreaper):
    rt = Runtime(tmp_path / "state")
    yield rt
    left = sorted(p.name for p in rt.root.iterdir()) if rt.root.exists() else []
    for cid in left:
        rt("delete", "--force", cid)
    assert not left, f"containers left behind: {left}"


def with_args(config, *args, **process):
    config = copy.deepcopy(config)
    config["process"]["args"] = list(args)
    config["process"].update(process)
    return config


@pytest.fixture(scope="module")
def runc_config(tmp_path_factory):
    require_root()
    require(shutil.which("runc"), "runc is not installed (apt-get install runc)")
    where = tmp_path_factory.mktemp("runc-spec")
    subprocess.run(["runc", "spec"], cwd=where, check=True)
    config = json.loads((where / "config.json").read_text())
    config["process"]["terminal"] = False
    return config


def side_by_side(tmp_path, runtime, rootfs, config, args, name):
    """(runc's stdout, ours) for `args` in the same bundle; both must exit 0."""
    results = []
    for who, rt in (("runc", Runtime(tmp_path / "runc-state", ["runc"])), ("ours", runtime)):
        c = json.loads(json.dumps(config))
        c["root"]["path"] = str(rootfs)
        c["process"]["args"] = args
        c["linux"]["cgroupsPath"] = f"/minidocker-cmp-{who}-{name}"
        bundle = make_bundle(tmp_path / f"{who}-{name}", c)
        result = rt("run", "--bundle", bundle, f"{who}-{name}")
        assert result.returncode == 0, (who, result.stderr)
        results.append(result.stdout)
    return results
