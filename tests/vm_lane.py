"""The pure-cgroup-v2 VM lane: the tests that boot tools/v2vm/run (emulated by qemu, minutes each)
are marked with `in_v2_vm` or `in_vm`; the session starts all their VM runs in one background
process as soon as it is collected, one VM at a time, and runs the marked tests last, where they
only collect their results. So the VM's minutes overlap the host's tests instead of adding to
them. Run alone (`pytest tests/test_cgroups.py -k v2`), a marked test boots its VM itself."""
import json, os, platform, shutil, signal, subprocess, sys, tempfile, time
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
    """A runner process (this file run as a script, started before any test) boots the queued VMs
    in order and writes each result to a file; `result` waits for one. A process, not a thread:
    tests that make this process a subreaper and reap every child (oci_support) must not collect
    a VM's exit status, and the VMs are the runner's children, not ours."""

    def __init__(self):
        self.queued, self.keys, self.runner, self.results = [], {}, None, None

    def submit(self, key, command):
        self.keys[key] = len(self.queued)
        argv, cwd, timeout = command
        self.queued.append({"argv": argv, "cwd": str(cwd), "timeout": timeout})

    def start(self):
        if self.queued:
            self.results = Path(tempfile.mkdtemp(prefix="v2vm-lane-"))
            (self.results / "jobs.json").write_text(json.dumps(self.queued))
            self.runner = subprocess.Popen([sys.executable, __file__, str(self.results)], start_new_session=True,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def result(self, item) -> VMRun:
        if item.nodeid not in self.keys:
            return _boot(*_command(item))
        done = self.results / f"{self.keys[item.nodeid]}.json"
        while not done.exists():
            if self.runner.poll() is not None and not done.exists():
                raise RuntimeError("the VM lane's runner ended before this VM run was done")
            time.sleep(0.5)
        found = json.loads(done.read_text())
        return VMRun(subprocess.CompletedProcess(found["argv"], found["returncode"], found["stdout"], found["stderr"]),
                     Path(found["cwd"]), found["seconds"])

    def pid(self):
        """The runner (its VMs are its children), excluded from the tests' process guards."""
        return self.runner.pid if self.runner and self.runner.poll() is None else None

    def stop(self):
        if self.runner and self.runner.poll() is None:
            self.runner.terminate()             # it stops its VM, then itself
            self.runner.wait()
        if self.results:
            shutil.rmtree(self.results, ignore_errors=True)


def _boot(argv, cwd, timeout, started_vm=lambda vm: None) -> VMRun:
    """Run one VM command to its end; a timeout kills the VM's whole group."""
    started = time.monotonic()
    vm = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
    started_vm(vm)
    try:
        out, err = vm.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(vm.pid, signal.SIGKILL)
        out, err = vm.communicate()
    return VMRun(subprocess.CompletedProcess(argv, vm.returncode, out, err), Path(cwd), time.monotonic() - started)


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


def _run_lane(results: Path):
    """The runner: each queued VM run in turn, its result written (atomically) to N.json."""
    def stop_with(vm):            # the session ended (LANE.stop): the VM goes first
        signal.signal(signal.SIGTERM, lambda *_: (os.killpg(vm.pid, signal.SIGKILL), sys.exit(1)))
    for number, job in enumerate(json.loads((results / "jobs.json").read_text())):
        run = _boot(job["argv"], job["cwd"], job["timeout"], stop_with)
        result = run.result
        (results / f"{number}.tmp").write_text(json.dumps({
            "argv": result.args, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
            "cwd": str(run.cwd), "seconds": run.seconds}))
        os.replace(results / f"{number}.tmp", results / f"{number}.json")


if __name__ == "__main__":
    _run_lane(Path(sys.argv[1]))
