"""Chapter 2: cgroups on the real kernel — on this host's layout, and on pure cgroup v2 inside a
throw-away VM (test_cgroup_tests_pass_on_pure_cgroup_v2)."""
import os, signal, subprocess, sys, time, uuid

import pytest

from support import CGROUP_EXPECT as EXPECT, require, require_root
from vm_lane import in_v2_vm
from minidocker.errors import MinidockerError
from minidocker.runtime import cgroups
from minidocker.runtime.cgroups import CgroupConfigError, CgroupError, Resources

MiB = 1 << 20


def python(code):
    return [sys.executable, "-I", "-S", "-c", code]


@pytest.fixture
def make():
    """create(resources) -> a cgroup minidocker/test-<random>; every one is destroyed afterwards,
    and every process started with `start` is reaped."""
    require_root()
    require(cgroups.mounts(), "no cgroup file system is mounted")
    made, procs = [], []

    def create(resources=None):
        made.append(cgroups.create(f"minidocker/test-{uuid.uuid4().hex[:8]}", resources))
        return made[-1]

    def start(cgroup, code, **kw):
        procs.append(cgroup.popen(python(code), **kw))
        return procs[-1]
    create.start = start
    yield create
    for cgroup in made:
        cgroup.destroy()
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def eventually(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def cpu_seconds(cgroup, seconds):
    before = cgroup.stats().cpu_usage_ns
    time.sleep(seconds)
    return (cgroup.stats().cpu_usage_ns - before) / 1e9


def kernel_file(cgroup, controller, name):
    directory = cgroup.dir(controller) if cgroup.version == "v1" else cgroup.dir
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


SLEEP = "import time; time.sleep(60)"
BUSY = "while True: pass"


def test_layout_is_detected():
    require(os.path.isdir("/sys/fs/cgroup"), "no /sys/fs/cgroup")
    kinds = {line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo") if " - cgroup" in line}
    layout = cgroups.layout()
    assert layout == ("v1" if "cgroup" in kinds else "v2")
    if EXPECT:
        assert layout == EXPECT, f"expected a {EXPECT} host, detected {layout}"


def test_limits_reach_the_kernel_files(make):
    cg = make({"memory": {"limit": 50 * MiB}, "cpu": {"shares": 512, "quota": 20000, "period": 100000},
               "pids": {"limit": 20}})
    if cg.version == "v1":
        want = {("memory", "memory.limit_in_bytes"): str(50 * MiB), ("cpu", "cpu.shares"): "512",
                ("cpu", "cpu.cfs_quota_us"): "20000", ("cpu", "cpu.cfs_period_us"): "100000",
                ("pids", "pids.max"): "20"}
        if os.path.exists(os.path.join(cg.dir("memory"), "memory.memsw.limit_in_bytes")):
            want["memory", "memory.memsw.limit_in_bytes"] = str(50 * MiB)  # swap disabled
    else:
        want = {("memory", "memory.max"): str(50 * MiB), ("cpu", "cpu.max"): "20000 100000",
                ("cpu", "cpu.weight"): "20", ("pids", "pids.max"): "20"}
        if os.path.exists(os.path.join(cg.dir, "memory.swap.max")):
            want["memory", "memory.swap.max"] = "0"  # swap disabled
    assert {key: kernel_file(cg, *key) for key in want} == want
    # raising and lowering memory with swap disabled: v1 must order its two writes each way
    for limit in (100 * MiB, 30 * MiB):
        cg.apply(Resources(memory_limit=limit))
        assert kernel_file(cg, "memory", "memory.limit_in_bytes" if cg.version == "v1" else "memory.max") == str(limit)
    cg.apply({"pids": {"limit": -1}, "cpu": {"quota": -1}})
    assert kernel_file(cg, "pids", "pids.max") == "max"


def test_memory_hog_is_oom_killed_and_reported(make):
    cg = make(Resources(memory_limit=30 * MiB))
    hog = make.start(cg, "chunks = []\nwhile True: chunks.append(b'x' * (4 << 20))")
    assert hog.wait(timeout=60) == -signal.SIGKILL
    stats = cg.stats()
    assert stats.oom_killed and stats.oom_kills >= 1, stats  # memory_limit_hits: see Stats
    assert stats.memory_peak is None or stats.memory_peak <= 30 * MiB
    assert stats.pids == 0


def test_fork_bomb_is_capped_by_pids_max(make):
    cg = make({"pids": {"limit": 10}})
    bomb = make.start(cg, """
import os, time
born = refused = 0
for _ in range(30):
    try:
        pid = os.fork()
    except BlockingIOError:
        refused += 1
        continue
    if pid == 0:
        time.sleep(60); os._exit(0)
    born += 1
print(born, refused, flush=True)
time.sleep(60)
""", stdout=subprocess.PIPE, text=True)
    assert bomb.stdout.readline().split() == ["9", "21"]
    assert cg.stats().pids == 10 and len(cg.pids()) == 10
    cg.destroy()
    assert bomb.wait(timeout=10) == -signal.SIGKILL and not cg.exists()


def test_cpu_quota_gives_a_fifth_of_a_cpu(make):
    cg = make({"cpu": {"quota": 20000, "period": 100000}})
    make.start(cg, BUSY)
    time.sleep(0.3)
    wall = 1.0
    share = cpu_seconds(cg, wall) / wall
    # a quota is a ceiling: on a busy host the loop may get less, never (much) more
    assert 0 < share < 0.25, f"{share:.2f} CPU under a 0.2 CPU quota"
    assert cg.stats().cpu_throttled > 0 or share < 0.15, "the loop reached its quota but was never throttled"


def test_freeze_stops_and_thaw_resumes(make):
    cg = make()
    loop = make.start(cg, BUSY)
    time.sleep(0.2)
    cg.freeze()
    assert cg.frozen and cpu_seconds(cg, 0.3) < 0.005
    cg.thaw()
    assert not cg.frozen and cpu_seconds(cg, 0.3) > 0.01
    assert loop.poll() is None


def test_stats_and_pids_describe_what_runs(make):
    cg = make()
    proc = make.start(cg, "x = b'y' * (8 << 20)\nimport time\nwhile True: time.sleep(1)")
    eventually(lambda: cg.stats().memory_usage >= 8 * MiB)
    stats = cg.stats()
    assert cg.pids() == [proc.pid] and stats.pids == 1
    assert stats.memory_usage >= 8 * MiB and stats.cpu_usage_ns > 0
    assert not stats.oom_killed and stats.oom_kills == 0


def test_kill_signals_every_process_inside(make):
    cg = make()
    parent = make.start(cg, "import os, time\nif os.fork() == 0: time.sleep(60)\ntime.sleep(60)")
    assert eventually(lambda: len(cg.pids()) == 2)
    cg.kill(signal.SIGTERM)
    assert parent.wait(timeout=10) == -signal.SIGTERM
    assert eventually(lambda: cg.pids() == [])


def test_destroy_after_the_process_was_killed(make):
    cg = make({"memory": {"limit": 50 * MiB}})
    proc = make.start(cg, SLEEP)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    cg.destroy()
    assert not cg.exists() and not [d for d in cg._dirs() if os.path.exists(d)]
    cg.destroy()  # twice is fine


def test_destroy_kills_what_is_left_even_when_frozen(make):
    cg = make({"pids": {"limit": 50}})
    proc = make.start(cg, "import os, time\nfor _ in range(5):\n    if os.fork() == 0: break\ntime.sleep(60)")
    assert eventually(lambda: len(cg.pids()) == 6)
    cg.freeze()
    cg.destroy()
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert not cg.exists()


def test_lookup_finds_a_cgroup_made_earlier(make):
    cg = make()
    proc = make.start(cg, SLEEP)
    again = cgroups.lookup("/" + cg.path)  # OCI cgroupsPath style
    assert again.path == cg.path and again.pids() == [proc.pid]
    with pytest.raises(CgroupError, match="already exists"):
        cgroups.create(cg.path)
    assert cg.exists()
    again.destroy()
    assert proc.wait(timeout=10) == -signal.SIGKILL and not cg.exists()
    with pytest.raises(CgroupError, match="does not exist"):
        cgroups.lookup(cg.path)


@pytest.mark.parametrize("resources", [{"cpu": {"quota": 500, "period": 100000}},  # below 1 ms
                                       {"pids": {"limit": 5}, "cpu": {"period": 10}}],
                         ids=["quota", "period"])
def test_a_refused_limit_is_one_line_and_leaves_nothing(make, resources):
    path = f"minidocker/refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(CgroupError) as caught:
        cgroups.create(path, resources)
    error = caught.value
    assert isinstance(error, MinidockerError) and error.exit_code == 125
    assert "\n" not in str(error) and "cpu" in str(error) and "Invalid argument" in str(error)
    assert not any(os.path.exists(os.path.join(root, path)) for root, _, _ in cgroups.mounts())


@pytest.mark.parametrize("bad", [{"memory": {"limit": "50M"}}, {"pids": [20]}, {"cpu": {"quota": True}}, []],
                         ids=["string", "list", "bool", "not-an-object"])
def test_nonsense_values_are_config_errors(bad):
    with pytest.raises(CgroupConfigError):
        Resources.from_oci(bad)


def test_resources_follow_the_oci_spec():
    r = Resources.from_oci({"memory": {"limit": 100, "swap": 300, "reservation": 1},
                            "cpu": {"shares": 1024, "quota": 5000, "period": 10000, "cpus": "0"},
                            "pids": {"limit": 7}, "devices": [{"allow": False, "access": "rwm"}]})
    assert r == Resources(memory_limit=100, memory_swap=300, cpu_shares=1024, cpu_quota=5000,
                          cpu_period=10000, pids_limit=7)
    assert Resources(memory_limit=100).memory_and_swap() == 100  # no swap by default
    assert Resources(memory_limit=-1).memory_and_swap() == -1
    assert Resources().memory_and_swap() is None
    assert [cgroups.shares_to_weight(s) for s in (2, 512, 1024, 262144)] == [1, 20, 39, 10000]
    with pytest.raises(CgroupConfigError):
        Resources(memory_limit=100, memory_swap=50)
    for path in ("", "/", "minidocker/../etc", "system.slice:minidocker:x"):
        with pytest.raises(CgroupConfigError):
            cgroups.lookup(path)


def test_containers_ending_while_others_start_share_their_parent(make):
    """One container's end removes the emptied `minidocker` parent while another is making its
    cgroup under it: the maker makes the parent again (20 concurrent `run`s hit this)."""
    import threading
    parent, errors = f"minidocker-race{uuid.uuid4().hex[:6]}", []

    def churn(name):
        try:
            for _ in range(40):
                cgroups.create(f"{parent}/{name}").destroy()
        except CgroupError as error:
            errors.append(error)
    workers = [threading.Thread(target=churn, args=(name,)) for name in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


@in_v2_vm("tests/test_cgroups.py", vm_timeout=480)
def test_cgroup_tests_pass_on_pure_cgroup_v2(v2vm):
    """Boot a pure-cgroup-v2 kernel under qemu and run this file's kernel tests there."""
