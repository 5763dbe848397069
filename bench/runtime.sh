#!/usr/bin/env bash
# Chapter 3's benchmark: one OCI bundle (busybox rootfs + `runc spec`'s config.json, command
# `true`), run to completion side by side in one hyperfine run:
#   python -m minidocker.runtime run   vs   runc run   vs   crun run
# crun refuses this machine's hybrid cgroups, so it runs in a mount namespace without the
# cgroup2 mount (see ../shared/NOTES.md). Prints each median (and CPU time) and its ratio to ours.
# Needs root, hyperfine, runc and crun (./course setup).   RUNS=N bench/runtime.sh
# SECCOMP=1 adds podman's default seccomp profile (/usr/share/containers/seccomp.json, its
# rules for this machine that need no capability, in OCI form) to the bundle: what a filter costs each runtime at start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PY=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d -p "${BENCH_TMP:-/dev/shm}")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle"
sh "$repo/scripts/mkrootfs-busybox" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
SECCOMP=${SECCOMP:-} "$PY" - "$work/bundle/config.json" <<'PYEOF'
import json, os, platform, sys
config = json.load(open(sys.argv[1]))
config["process"].update(terminal=False, args=["true"])
if os.environ.get("SECCOMP"):
    docker = json.load(open("/usr/share/containers/seccomp.json"))
    native, go = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64")}[platform.machine()]
    arches = next([m["architecture"], *m["subArchitectures"]] for m in docker["archMap"] if m["architecture"] == native)
    rules = [{k: r[k] for k in ("names", "action", "args", "errnoRet") if r.get(k)} for r in docker["syscalls"]
             if not (r.get("includes") or {}).get("caps") and not any((r.get("excludes") or {}).values())
             and go in ((r.get("includes") or {}).get("arches") or [go])]      # this machine's, none needing a capability
    config["linux"]["seccomp"] = {"defaultAction": docker["defaultAction"], "defaultErrnoRet": docker.get("defaultErrnoRet"),
                                  "architectures": arches, "syscalls": rules}
json.dump(config, open(sys.argv[1], "w"), indent=1)
PYEOF
crun_cmd="umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root $work/crun run -b $work/bundle bench-crun"
if ! grep -q ' /sys/fs/cgroup/unified ' /proc/self/mountinfo; then
  crun_cmd="exec crun --root $work/crun run -b $work/bundle bench-crun"
fi
PYTHONPATH=$repo hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$work/result.json" \
  -n "minidocker runtime run" "$PY -m minidocker.runtime --root $work/ours run -b $work/bundle bench-ours" \
  -n "runc run" "runc --root $work/runc run -b $work/bundle bench-runc" \
  -n "crun run" "unshare -m sh -c '$crun_cmd'"
"$PY" - "$work/result.json" <<'PYEOF'
import json, sys
rows = [(r["command"], r["median"] * 1000, (r["user"] + r["system"]) * 1000)
        for r in json.load(open(sys.argv[1]))["results"]]
ours_wall, ours_cpu = rows[0][1], rows[0][2]
print(f"\n{'command':<24} {'median ms':>10} {'ours / it':>10} {'cpu ms':>8} {'ours / it':>10}")
for name, wall, cpu in rows:
    print(f"{name:<24} {wall:>10.1f} {ours_wall / wall:>10.2f} {cpu:>8.1f} {ours_cpu / cpu:>10.2f}")
PYEOF
