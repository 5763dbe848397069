"""Chapter 3's OCI runtime on pure cgroup v2, inside a throw-away VM (tools/v2vm/run): the
side-by-side comparison with runc (cgroup limit files included), the memory hog OOM-killed and the
fork bomb capped, and the lifecycle verbs that make, read, signal and destroy a v2 cgroup.
Left out: the devices cgroup (test_devices_cgroup_*), which minidocker implements on v1 only (v2
needs an eBPF program, chapter 3); on v2 those tests skip, and the VM run allows no skip."""
from support import pytest_in_cgroup_v2_vm

ESCAPES = ["memory_hog_is_killed_at_its_limit", "fork_bomb_is_capped_by_pids_limit"]
LIFECYCLE = ["lifecycle_create_start_state_kill_delete",             # the cgroup made, then destroyed
             "run_detached_then_kill_all",                           # kill --all reads cgroup.procs
             "cgroup_namespace_shows_the_container_cgroup_as_root",  # a cgroup2 mount in a new cgroupns
             "a_limit_the_kernel_refuses"]                           # cpu.max refused: nothing left


def test_runtime_tests_pass_on_pure_cgroup_v2():
    """Boot a pure-cgroup-v2 kernel under qemu and run the runtime's cgroup-touching tests there."""
    pytest_in_cgroup_v2_vm("tests/test_runtime_vs_runc.py",
                           *(f"tests/test_runtime_escapes.py::test_{name}" for name in ESCAPES),
                           *(f"tests/test_oci_runtime.py::test_{name}" for name in LIFECYCLE),
                           "-k", "not devices_cgroup")
