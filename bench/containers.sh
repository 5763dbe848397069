#!/usr/bin/env bash
# Chapter 6's benchmark: 50 containers from one image, kept after they exit (no --rm), made by
#   minidocker run busybox true   vs   podman run --network none busybox true (runc, overlay)
# the same busybox image in both (minidocker saves it, podman loads it). Prints the time for all
# 50 and the disk they take beyond the image, and the ratios. Needs root, podman (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
. bench/podman.sh

usage() { du -sb "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
clock() { date +%s.%N; }
md_before=$(usage "$work/md")
t0=$(clock); for i in $(seq "$N"); do "$PY" -m minidocker run busybox true; done; t1=$(clock)
md_disk=$(( $(usage "$work/md") - md_before ))
pd_before=$(usage "$work/podman")
t2=$(clock); for i in $(seq "$N"); do $podman run -q busybox true; done; t3=$(clock)
pd_disk=$(( $(usage "$work/podman") - pd_before ))

"$PY" - "$N" "$t0" "$t1" "$md_disk" "$t2" "$t3" "$pd_disk" <<'PYEOF'
import sys
n, t0, t1, md_disk, t2, t3, pd_disk = sys.argv[1:]
n = int(n)
md_time, pd_time = float(t1) - float(t0), float(t3) - float(t2)
print(f"\n{n} containers from one image, kept after they exit")
print(f"{'':<12}{'seconds':>9}{'ms each':>9}{'disk KiB':>10}{'KiB each':>10}")
for name, secs, disk in (("minidocker", md_time, int(md_disk)), ("podman", pd_time, int(pd_disk))):
    print(f"{name:<12}{secs:>9.2f}{secs / n * 1000:>9.0f}{disk / 1024:>10.0f}{disk / 1024 / n:>10.1f}")
print(f"minidocker / podman: time {md_time / pd_time:.2f}, disk {int(md_disk) / max(int(pd_disk), 1):.2f}")
PYEOF
