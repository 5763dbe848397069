"""Chapter 3's OCI runtime on pure cgroup v2, inside a throw-away VM (tools/v2vm/run): the
side-by-side comparison with runc (cgroup limit files and the devices filter included), the
memory hog OOM-killed, the fork bomb capped, a disk's node made with CAP_MKNOD but not opened
(the eBPF devices program), and the lifecycle verbs that make, read, signal and destroy a v2 cgroup."""
from vm_lane import in_v2_vm

BESIDE_RUNC = ["test_probe_matches_runc[mounts]", "test_probe_matches_runc[devices]",   # what v2 changes
               "test_cgroup_limits_match_runc", "test_devices_cgroup_matches_runc"]
ESCAPES = ["memory_hog_is_killed_at_its_limit", "fork_bomb_is_capped_by_pids_limit",
           "devices_cgroup_stops_a_disk_even_with_cap_mknod"]             # the eBPF program, attached
LIFECYCLE = ["lifecycle_create_start_state_kill_delete",             # the cgroup made, then destroyed
             "run_detached_then_kill_all",                           # kill --all reads cgroup.procs
             "cgroup_namespace_shows_the_container_cgroup_as_root",  # a cgroup2 mount in a new cgroupns
             "a_limit_the_kernel_refuses"]                           # cpu.max refused: nothing left


@in_v2_vm(*(f"tests/test_runtime_vs_runc.py::{name}" for name in BESIDE_RUNC),
          "tests/test_runtime_devices.py",
          *(f"tests/test_runtime_escapes.py::test_{name}" for name in ESCAPES),
          *(f"tests/test_oci_runtime.py::test_{name}" for name in LIFECYCLE),
          vm_timeout=900)                                      # ~25 runtime tests at emulated speed
def test_runtime_tests_pass_on_pure_cgroup_v2(v2vm):
    """Boot a pure-cgroup-v2 kernel under qemu and run the runtime's cgroup-touching tests there."""
