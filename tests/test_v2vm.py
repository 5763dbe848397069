"""tools/v2vm/run, the throw-away VM the pure-cgroup-v2 tests and chapter 0 boot: it relays the
command's output and exit status, and the guest really is pure cgroup v2 with its own kernel."""
import shutil
import subprocess
from pathlib import Path

from support import ROOT, V2VM
from vm_lane import in_vm

SCRIPT = ("echo kernel $(uname -r) $GREETING; grep -c cgroup /proc/mounts; cat /sys/fs/cgroup/cgroup.subtree_control;"
          " echo written > shared; echo to stderr >&2; exit 3")


@in_vm("sh", "-c", SCRIPT, env=("GREETING=hello",), shared_cwd=True)
def test_a_command_runs_in_a_pure_cgroup_v2_vm(v2vm):
    result = v2vm.result
    try:
        assert result.returncode == 3, result.stdout + result.stderr
        kernel, mounts, controllers = result.stdout.splitlines()
        assert kernel.split()[2:] == ["hello"]
        assert kernel.split()[1] in {image.name.removeprefix("vmlinuz-") for image in Path("/boot").glob("vmlinuz-*")}
        assert mounts == "1", "only the cgroup2 hierarchy is mounted"
        assert set(controllers.split()) >= {"cpu", "memory", "pids", "io"}
        assert result.stderr == "to stderr\n"
        assert (v2vm.cwd / "shared").read_text() == "written\n"      # the current directory is shared
    finally:
        shutil.rmtree(v2vm.cwd)


def test_bad_usage_is_one_line():
    result = subprocess.run([str(V2VM)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "give a command" in result.stderr
