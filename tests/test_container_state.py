"""Containers as the store and the runtime see them: a container uses its image's layers until it
is removed, and a runner killed with SIGKILL leaves state that `ps`, `rm` and `rmi` agree on."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from test_container_run import engine        # noqa: F401 (a fixture: busybox:latest in a private store)


def _background_run(tmp_path, *args):
    """`minidocker run ARGS` in the background; returns (process, container ID) once it runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    process = subprocess.Popen([sys.executable, "-m", "minidocker", "run", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        states = list((tmp_path / "run/runtime").glob("*/state.json"))
        if states and not (states[0].parent / "exec.fifo").exists():
            return process, states[0].parent.name
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the container did not start: {process.communicate()[1]}")


def _leftovers(tmp_path, container_id):
    """What the container still holds on the host: runtime state, rootfs mount, cgroups."""
    runtime = list((tmp_path / "run/runtime").glob("*"))
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(tmp_path) in line]
    cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob(f"**/{container_id}")]
    return runtime + mounts + cgroups


def _store_layers(tmp_path):
    return sorted(p.name for p in (tmp_path / "state/image/layers").iterdir())


def test_cli_killed_mid_run_container_survives_and_rm_f_releases_it(engine, tmp_path):
    """SIGKILL of the CLI leaves its container running (re-parented to init): ps says Up, as the
    runtime does; rm refuses without -f; rm -f kills it and frees state, mount and cgroup."""
    process, container_id = _background_run(tmp_path, "busybox", "sleep", "100")
    process.send_signal(signal.SIGKILL)
    process.wait()
    ps = engine("ps")
    assert container_id[:12] in ps.stdout and " Up " in ps.stdout, ps.stdout
    result = engine("rm", container_id[:12])
    assert result.returncode == 1 and "container is running" in result.stderr
    image_id = engine("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    assert engine("rmi", "-f", "busybox").stdout == "Untagged: busybox:latest\n"   # a running user: untag only
    assert engine("rm", "-f", container_id[:12]).returncode == 0
    assert _leftovers(tmp_path, container_id) == []
    assert engine("ps", "-a", "-q").stdout == ""
    assert engine("rmi", image_id).returncode == 0 and _store_layers(tmp_path) == []   # it stayed, dangling


def test_cli_and_container_killed_then_ps_rm_rmi_agree(engine, tmp_path):
    process, container_id = _background_run(tmp_path, "busybox", "sleep", "100")
    init = json.loads((tmp_path / "run/runtime" / container_id / "state.json").read_text())["pid"]
    process.send_signal(signal.SIGKILL)
    os.kill(init, signal.SIGKILL)
    process.wait()
    record = json.loads(next((tmp_path / "state/containers").glob("*/config.json")).read_text())
    assert record["State"]["Running"]                       # the record lies ...
    assert engine("ps", "-q").stdout == ""                  # ... ps does not
    assert "Exited (255)" in engine("ps", "-a").stdout
    result = engine("rmi", "busybox")
    assert result.returncode == 1 and "must force" in result.stderr      # a stopped user: forceable
    assert engine("rm", container_id).returncode == 0
    assert _leftovers(tmp_path, container_id) == []
    result = engine("rmi", "busybox")
    assert result.returncode == 0 and "Untagged: busybox:latest" in result.stdout, result.stderr
    assert _store_layers(tmp_path) == []


def test_rmi_f_keeps_the_layers_a_stopped_container_needs(engine, tmp_path):
    assert engine("run", "--name", "keeper", "busybox", "true").returncode == 0
    layers = _store_layers(tmp_path)
    image_id = engine("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    result = engine("rmi", "-f", "busybox")
    assert (result.returncode, result.stdout) == (0, f"Untagged: busybox:latest\nDeleted: {image_id}\n")
    assert _store_layers(tmp_path) == layers and "keeper" in engine("ps", "-a").stdout
    assert engine("rm", "keeper").returncode == 0
    assert _store_layers(tmp_path) == []          # its last user is gone: so are the layers


def test_a_running_containers_image_cannot_be_deleted(engine, tmp_path):
    process, container_id = _background_run(tmp_path, "busybox", "sleep", "100")
    try:
        image_id = engine("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
        result = engine("rmi", "-f", image_id[7:19])
        assert result.returncode == 1 and result.stderr == (
            f"minidocker: conflict: unable to delete {image_id[7:19]} (cannot be forced) - "
            f"image is being used by running container {container_id[:12]}\n")
    finally:
        assert engine("rm", "-f", container_id).returncode == 0
        process.wait()
    assert _leftovers(tmp_path, container_id) == []


def test_run_racing_rmi_f_either_runs_or_finds_no_image(engine, tmp_path, busybox_rootfs):
    """A container's record is written under the store's lock, and from then on it keeps its
    image's config and layers: rmi -f at any moment of a run cannot pull them from under it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    for round in range(6):
        if round:
            assert engine("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest").returncode == 0
        runner = subprocess.Popen([sys.executable, "-m", "minidocker", "run", "--rm", "busybox", "true"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.05 * round)
        engine("rmi", "-f", "busybox")
        _, err = runner.communicate(timeout=60)
        assert runner.returncode == 0 or (runner.returncode == 125 and "Unable to find image" in err), err
    assert engine("ps", "-a", "-q").stdout == ""
    engine("image", "prune", "-a", "-f")
    assert _store_layers(tmp_path) == []
