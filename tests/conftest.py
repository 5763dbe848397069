"""Shared fixtures: a busybox rootfs, the CLI under a private state root, and a guard that every
test leaves the host as it found it (mount points, cgroups, network links, named netns)."""
import os, subprocess, sys, time
from pathlib import Path

import pytest

from support import mkrootfs, processes, require_root
from vm_lane import LANE, schedule, v2vm  # noqa: F401 - v2vm is the VM tests' fixture


def pytest_configure(config):
    """As root, the whole session runs in a network namespace of its own (lo up): the default
    bridge, veths and NAT rules of every `run` (Docker's default network is the bridge) are made
    there, never on the host's network — nor by the notebooks and tools the tests start."""
    if os.geteuid() == 0:
        from minidocker.runtime import libc
        from minidocker.runtime.namespaces import loopback_up
        host = os.open("/proc/self/ns/net", os.O_RDONLY)     # kept: support.on_host_network
        os.environ["MINIDOCKER_TEST_HOST_NETNS"] = f"/proc/{os.getpid()}/fd/{host}"
        libc.unshare(libc.CLONE_NEWNET)
        loopback_up()
    config.addinivalue_line("markers", "v2vm: a test that runs in the pure-cgroup-v2 VM (tests/vm_lane.py)")


@pytest.hookimpl(trylast=True)          # after -k and -m have deselected
def pytest_collection_modifyitems(items):
    schedule(items)


def pytest_collection_finish(session):
    LANE.start()


def pytest_sessionfinish(session):
    LANE.stop()


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory):
    """A read-mostly busybox rootfs shared by the whole session: don't write into it."""
    require_root()
    return mkrootfs(tmp_path_factory.mktemp("rootfs") / "busybox")


@pytest.fixture
def rootfs(tmp_path):
    """A private busybox rootfs for a test that writes into it."""
    require_root()
    return mkrootfs(tmp_path / "rootfs")


@pytest.fixture
def minidocker(tmp_path):
    """Run `python -m minidocker ...` with state under a private temporary root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["MINIDOCKER_ROOT"] = str(tmp_path / "state")
    env["MINIDOCKER_RUNROOT"] = str(tmp_path / "run")
    env.setdefault("MINIDOCKER_HUB", "http://127.0.0.1:9")   # "Docker Hub" answers nothing: never reached

    def run(*args, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 120)
        return subprocess.run([sys.executable, "-m", "minidocker", *map(str, args)], env=env, **kw)
    return run


CLEANUP = "from minidocker.container import record\nfor r in record.all_records():\n    lifecycle.remove_record(r, volumes=True)"


class Docker:
    """`docker(*args)` runs the CLI and returns its CompletedProcess; `argv` and `env` start it
    some other way (Popen, a pty)."""

    def __init__(self, run, tmp_path):
        self.run = run
        self.env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))

    def __call__(self, *args, **kw):
        return self.run(*args, **kw)

    def engine(self, code: str):
        """Run `code` with minidocker.container.lifecycle imported, on this state root."""
        subprocess.run([sys.executable, "-c", "from minidocker.container import lifecycle\n" + code], env=self.env,
                       check=True, timeout=120)

    def argv(self, *args):
        return [sys.executable, "-m", "minidocker", *map(str, args)]


@pytest.fixture
def docker(minidocker, busybox_rootfs, tmp_path):
    """The CLI on a private state root holding busybox:latest (and `busybox:vol`, with a VOLUME
    and a STOPSIGNAL); every container is removed afterwards, whatever the test did."""
    require_root()
    for args in (("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest"),
                 ("import", "-c", 'CMD ["sh"]', "-c", "VOLUME /data", "-c", "STOPSIGNAL SIGUSR1",
                  busybox_rootfs, "busybox:vol")):
        result = minidocker(*args)
        assert result.returncode == 0, result.stderr
    cli = Docker(minidocker, tmp_path)
    yield cli
    cli.engine(CLEANUP)


def _host_state():
    def read(p):
        try:
            return Path(p).read_text()
        except OSError:
            return ""
    mounts = sorted(line.split()[4] for line in read("/proc/self/mountinfo").splitlines())
    links = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []   # the host's
    session = [line.split(":")[0].strip() for line in read("/proc/net/dev").splitlines()[2:]]  # the session's
    links += sorted(f"{name} (session netns)" for name in session if name != "minidocker0")  # a bridge stays, as docker0
    cgroups = sorted(os.path.join(parent, name) for parent, children, _ in os.walk("/sys/fs/cgroup")  # a cgroup
                     for name in children if name.startswith("minidocker"))   # going away meanwhile is skipped
    netns = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    runtime = sorted(os.listdir("/run/minidocker/runtime")) if os.path.isdir("/run/minidocker/runtime") else []
    return {"mount points": mounts, "network links": links, "cgroups": cgroups, "named netns": netns,
            "containers in /run/minidocker": runtime}


def _descendants(root_pid):
    """Processes whose ancestry leads to `root_pid` (a container left running shows up here),
    but for the VM lane's run, which works in the background on purpose."""
    parents = {pid: ppid for pid, (_, ppid) in processes().items()}
    vm = LANE.pid()
    found = []
    for pid in parents:
        ancestor = pid
        while ancestor and ancestor not in (root_pid, vm):
            ancestor = parents.get(ancestor)
        if ancestor == root_pid and pid != root_pid:
            found.append(pid)
    return found


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """execute(path) -> the chapter executed top to bottom on the real kernel, saved with its
    outputs: each chapter runs once per session, for its own test and for the book (which is built
    from these copies). What a chapter leaves on the host fails it, as the guard below does."""
    out = tmp_path_factory.mktemp("executed")
    outcome = {}

    def execute(path: Path) -> Path:
        if path not in outcome:
            import nbformat
            from nbclient import NotebookClient
            notebook = nbformat.read(path, as_version=4)
            env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}   # else ipykernel drops child output
            before = _host_state()
            try:
                NotebookClient(notebook, timeout=600, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
                outcome[path] = _left_behind(before)
            except Exception as error:        # noqa: B902 - a chapter's error is its test's failure
                outcome[path] = error
            nbformat.write(notebook, out / path.name)
        if isinstance(outcome[path], Exception):
            raise outcome[path]
        assert not outcome[path], f"{path.name} left this on the host: {outcome[path]}"
        return out / path.name
    return execute


def _left_behind(before: dict) -> dict:
    """What appeared on the host since `before` (only what appeared: a developer's machine may have
    other test runs going at the same time, whose cleanup would otherwise be blamed here)."""
    after = _host_state()
    left = {k: sorted(set(after[k]) - set(before[k])) for k in before}
    left.update({"mount points": [m for m in set(after["mount points"])
                                  if after["mount points"].count(m) > before["mount points"].count(m)]})
    return {k: v for k, v in left.items() if v}


@pytest.fixture(autouse=True)
def host_left_as_found():
    before = _host_state()
    yield
    for _ in range(50):  # processes being reaped right now get a moment
        if not _descendants(os.getpid()):
            break
        time.sleep(0.1)
    assert not _descendants(os.getpid()), "the test left processes running"
    left = _left_behind(before)
    assert not left, f"the test left this on the host: {left}"
