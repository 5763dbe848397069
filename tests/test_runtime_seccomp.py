"""linux.seccomp under the OCI runtime (chapter 3), call by call against runc on the same bundle:
podman's default profile (/usr/share/containers/seccomp.json, in Docker's format) turned into the
OCI form an engine writes, a Docker-like deny-by-default variant of it, and every action."""
import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from oci_support import runc_config, runtime, side_by_side, subreaper  # noqa: F401 (fixtures)
from support import ROOT, require

PODMAN_PROFILE = Path("/usr/share/containers/seccomp.json")
PROBES = ["getpid", "fork", "keyctl", "add_key", "unshare-user", "clone-newuser", "personality-query",
          "personality-linux32", "personality-no-aslr", "socket-netlink-audit", "socket-inet", "bpf", "userfaultfd"]
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
CLONE_NAMESPACE_FLAGS = 0x7E020000          # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
EPERM, ENOSYS = 1, 38


def oci_profile(profile: dict, bounding: list) -> dict:
    """Docker's profile format (archMap, includes/excludes by capability, arch and kernel) -> the
    OCI linux.seccomp an engine writes for a container with this bounding set (moby's setupSeccomp)."""
    machine = platform.machine()
    kernel = tuple(int(n) for n in re.findall(r"\d+", platform.release())[:2])
    arches = next([m["architecture"], *m["subArchitectures"]] for m in profile["archMap"]
                  if m["architecture"] == SCMP_ARCH[machine])
    syscalls = []
    for rule in profile["syscalls"]:
        includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
        if includes.get("arches") and GO_ARCH[machine] not in includes["arches"]:
            continue
        if not set(includes.get("caps") or []) <= set(bounding):
            continue
        if includes.get("minKernel") and kernel < tuple(int(n) for n in includes["minKernel"].split(".")[:2]):
            continue
        if GO_ARCH[machine] in (excludes.get("arches") or []) or set(excludes.get("caps") or []) & set(bounding):
            continue
        syscalls.append({key: rule[key] for key in ("names", "action", "args", "errnoRet") if rule.get(key)})
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet"),
            "architectures": arches, "syscalls": syscalls}


def docker_like(profile: dict) -> dict:
    """podman's policy, made Docker's where they differ: deny with EPERM by default; no keyctl,
    unshare, mount or setns without CAP_SYS_ADMIN; clone only without namespace flags (a masked
    comparison), clone3 ENOSYS so that libc falls back to clone; personality as listed."""
    gated = {"keyctl", "unshare", "mount", "umount2", "setns", "clone", "clone3"}
    syscalls = [dict(rule, names=[n for n in rule["names"] if n not in gated]) for rule in profile["syscalls"]]
    syscalls = [rule for rule in syscalls if rule["names"]]
    syscalls += [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}]
    return dict(profile, defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=EPERM, syscalls=syscalls)


@pytest.fixture(scope="module")
def probe_rootfs(tmp_path_factory, busybox_rootfs):
    """A busybox rootfs with /bin/sysprobe (tests/sysprobe.c, linked statically)."""
    require(shutil.which("gcc") and Path("/usr/lib/x86_64-linux-gnu/libc.a").exists() or platform.machine() != "x86_64",
            "gcc and libc6-dev are needed to build tests/sysprobe.c (./course setup installs them)")
    require(PODMAN_PROFILE.exists(), f"{PODMAN_PROFILE} is missing (golang-github-containers-common, with podman)")
    root = tmp_path_factory.mktemp("seccomp") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin/sysprobe"), str(ROOT / "tests/sysprobe.c")], check=True)
    return root


def probe_both(tmp_path, runtime, rootfs, config, profile, name):
    """{probe: errno} under runc and under ours, for the same bundle and profile."""
    config = json.loads(json.dumps(config))
    config["linux"]["seccomp"] = profile
    theirs, ours = side_by_side(tmp_path, runtime, rootfs, config,
                                ["sh", "-c", "grep Seccomp: /proc/self/status; sysprobe " + " ".join(PROBES)], name)
    print(f"runc: {theirs}\nours: {ours}")
    assert ours == theirs
    lines = ours.split("\n")
    assert lines[0].split() == ["Seccomp:", "2"]
    return {probe: int(errno) for probe, errno in (line.split() for line in lines[1:] if line)}


def test_podmans_default_profile_as_runc_applies_it(tmp_path, runtime, runc_config, probe_rootfs):
    profile = oci_profile(json.loads(PODMAN_PROFILE.read_text()), runc_config["process"]["capabilities"]["bounding"])
    result = probe_both(tmp_path, runtime, probe_rootfs, runc_config, profile, "podman")
    assert result["getpid"] == result["fork"] == result["socket-inet"] == 0      # normal programs work
    assert result["add_key"] == ENOSYS                   # not listed: podman's defaultErrnoRet
    assert result["userfaultfd"] == result["bpf"] == EPERM    # listed SCMP_ACT_ERRNO rules (EPERM)
    assert result["personality-linux32"] == 0 and result["personality-no-aslr"] == ENOSYS   # args: EQ


def test_a_docker_like_profile_denies_new_namespaces_and_keyrings(tmp_path, runtime, runc_config, probe_rootfs):
    podman = oci_profile(json.loads(PODMAN_PROFILE.read_text()), runc_config["process"]["capabilities"]["bounding"])
    result = probe_both(tmp_path, runtime, probe_rootfs, runc_config, docker_like(podman), "docker")
    assert result["getpid"] == result["fork"] == 0                     # clone without namespace flags
    assert result["unshare-user"] == result["clone-newuser"] == result["keyctl"] == EPERM
    assert result["add_key"] == EPERM and result["personality-no-aslr"] == EPERM


@pytest.mark.parametrize("action, extra", [("SCMP_ACT_LOG", {}), ("SCMP_ACT_KILL_PROCESS", {}),
                                           ("SCMP_ACT_KILL_THREAD", {}), ("SCMP_ACT_KILL", {}), ("SCMP_ACT_TRAP", {}),
                                           ("SCMP_ACT_TRACE", {"errnoRet": 7}), ("SCMP_ACT_ERRNO", {"errnoRet": 13})])
def test_each_action_as_runc_maps_it(tmp_path, runtime, runc_config, probe_rootfs, action, extra):
    """keyctl gets the action; everything else is allowed. (-1: the probe's child was killed.)"""
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": [SCMP_ARCH[platform.machine()]],
               "syscalls": [dict(names=["keyctl"], action=action, **extra)]}
    result = probe_both(tmp_path, runtime, probe_rootfs, runc_config, profile, action.lower().replace("_", "-"))
    assert result["getpid"] == 0
    expected = {"SCMP_ACT_LOG": 0, "SCMP_ACT_TRACE": ENOSYS, "SCMP_ACT_ERRNO": 13}.get(action, -1)   # TRACE: no tracer
    assert result["keyctl"] == expected
