"""The pure-cgroup-v2 VM lane: the tests that boot tools/v2vm/run (emulated by qemu, minutes each)
are marked with `in_v2_vm` or `in_vm`; the session starts all their VM runs in one background
thread as soon as it is collected, one VM at a time, and runs the marked tests last, where they
only collect their results. So the VM's minutes overlap the host's tests instead of adding to
them. Run alone (`pytest tests/test_cgroups.py -k v2`), a marked test boots its VM itself."""
import os, platform, shutil, signal, subprocess, sys, tempfile, threading, time
from concurrent.futures import Future
from pathlib import Path

import pytest

from support import CGROUP_EXPECT, ROOT, V2VM, require, require_root


def in_v2_vm(*pytest_args, vm_timeout=300):
    """Mark a test that runs pytest on `pytest_args` in the VM, strictly (MINIDOCKER_REQUIRE_KERNEL=1,
    every test must pass: deselect what cannot run on v2 with -k and say why). The marked test runs
    inside too, where its `v2vm` fixture checks the cgroup layout instead of booting again, so
    every VM run proves it really was on v2. Keep it focused: Python is ~10x slower in the VM."""
    return pytest.mark.v2vm(pytest_args=pytest_args, vm_timeout=vm_timeout)


def in_vm(*argv, env=(), shared_cwd=False, vm_timeout=300):
    """Mark a test that runs `argv` in the VM (from the checkout, or from a fresh directory shared
    with the VM when `shared_cwd`); its `v2vm` fixture gives the finished run."""
    return pytest.mark.v2vm(argv=argv, env=env, shared_cwd=shared_cwd, vm_timeout=vm_timeout)


class VMRun:
    """A finished VM run: `result` (a CompletedProcess of text) and the directory it ran in."""

    def __init__(self, result, cwd, seconds):
        self.result, self.cwd, self.seconds = result, cwd, seconds


def _command(item) -> tuple:
    """(argv, cwd, timeout) of the VM run a marked test item asks for."""
    mark = item.get_closest_marker("v2vm").kwargs
    vm = [str(V2VM), "-t", str(mark["vm_timeout"])]
    if "pytest_args" in mark:
        argv = vm + ["-e", "MINIDOCKER_CGROUP_EXPECT=v2", "-e", "MINIDOCKER_REQUIRE_KERNEL=1",
                     "-e", "PYTHONDONTWRITEBYTECODE=1", "--", sys.executable, "-m", "pytest", "-q",
                     "-p", "no:cacheprovider", "--durations=5", item.nodeid, *mark["pytest_args"]]
        return argv, ROOT, mark["vm_timeout"] + 30
    env = [word for pair in mark["env"] for word in ("-e", pair)]
    cwd = Path(tempfile.mkdtemp(prefix="v2vm-")) if mark["shared_cwd"] else ROOT
    return vm + env + ["--", *mark["argv"]], cwd, mark["vm_timeout"] + 30


class Lane:
    """One background thread running queued VM runs in order; `result` waits for one."""

    def __init__(self):
        self.queued, self.futures, self.running = [], {}, None
        self.stopped = False
        self.lock = threading.Lock()

    def submit(self, key, command):
        self.futures[key] = Future()
        self.queued.append((key, command))

    def start(self):
        if self.queued:
            threading.Thread(target=self._work, name="v2vm-lane", daemon=True).start()

    def _work(self):
        for key, command in self.queued:
            future = self.futures[key]
            try:
                future.set_result(self._boot(*command))
            except BaseException as error:      # noqa: B902 - handed to the waiting test
                future.set_exception(error)

    def _boot(self, argv, cwd, timeout) -> VMRun:
        if self.stopped:
            raise RuntimeError("the session ended before this VM run started")
        started = time.monotonic()
        with self.lock:
            self.running = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True, start_new_session=True)
        try:
            out, err = self.running.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.running.pid, signal.SIGKILL)
            out, err = self.running.communicate()
        result = subprocess.CompletedProcess(argv, self.running.returncode, out, err)
        with self.lock:
            self.running = None
        return VMRun(result, cwd, time.monotonic() - started)

    def result(self, item) -> VMRun:
        if item.nodeid in self.futures:
            return self.futures[item.nodeid].result()
        return self._boot(*_command(item))

    def pid(self):
        """The running VM's process (its group is the VM's), excluded from the tests' process guard."""
        running = self.running
        return running.pid if running else None

    def stop(self):
        self.stopped = True
        running = self.running
        if running and running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)


LANE = Lane()


def vm_available() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("qemu-system-" + platform.machine())) \
        and bool(list(Path("/boot").glob("vmlinuz-*")))


def schedule(items: list):
    """Move the marked tests to the end (their VM runs overlap everything before them) and queue
    their runs; inside the VM nothing is queued."""
    marked = [item for item in items if item.get_closest_marker("v2vm")]
    items[:] = [item for item in items if not item.get_closest_marker("v2vm")] + marked
    if marked and not CGROUP_EXPECT and vm_available():
        for item in marked:
            LANE.submit(item.nodeid, _command(item))


@pytest.fixture
def v2vm(request):
    """The marked test's VM run, finished; for `in_v2_vm` tests, its pytest run checked too."""
    mark = request.node.get_closest_marker("v2vm").kwargs
    if CGROUP_EXPECT:
        from minidocker.runtime import cgroups
        assert "pytest_args" in mark, "only pytest runs go into the VM"
        assert cgroups.layout() == CGROUP_EXPECT, f"expected a {CGROUP_EXPECT} host, detected {cgroups.layout()}"
        return None
    require_root()
    require(vm_available(), "the pure cgroup v2 VM needs qemu and Debian's kernel (./course test installs them)")
    run = LANE.result(request.node)
    out = run.result.stdout
    print(f"v2 VM run took {run.seconds:.0f}s\n{out[-3000:]}")
    if "pytest_args" in mark:
        assert run.result.returncode == 0, out[-6000:] + run.result.stderr[-3000:]
        summary = out.strip().splitlines()[-1]
        assert " passed" in summary and not any(word in summary for word in ("skipped", "failed", "error", "xfail")), \
            out[-6000:]
    return run
