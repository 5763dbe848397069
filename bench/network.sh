#!/usr/bin/env bash
# Chapter 6b's benchmark, all of it inside a fresh network namespace that plays the host:
#  1. a container start+exit of `true` with the bridge network (attach, join the netns, detach)
#     vs the same with --network none: the network's cost on a start (goal: ≤ 15 ms more);
#     and the same attach+detach in a warm process (what it costs without Python's imports);
#  2. iperf3, 1 GiB from an outside client namespace, through a published port vs through a plain
#     veth + DNAT made by hand (goal: ≥ 0.9× the throughput; the data path is the kernel's), the
#     two in turn (A B A B …) so that a busy machine's slow moments fall on both.
# podman's bridge needs its CNI/netavark stack and a host bridge of its own: not compared here.
# Prints the medians and ratios through bench/ratios.py. Needs root, hyperfine, iperf3, nftables.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
if [ -z "${MINIDOCKER_BENCH_LAB:-}" ]; then
  exec env MINIDOCKER_BENCH_LAB=1 unshare --net "$0" "$@"
fi
ip link set lo up
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/minidocker-network.XXXXXX")
export MINIDOCKER_ROOT=$work/state MINIDOCKER_RUNROOT=$work/run
cleanup() {
  awk -v t="$work/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
sh scripts/mkrootfs-busybox "$work/rootfs"
"$PY" -m compileall -q minidocker >/dev/null 2>&1 || true
B="$PY bench/network_bench.py"
hyperfine -N --warmup 3 --runs ${RUNS:-30} --export-json "$work/start.json" \
  -n "network none" "$B start none $work $work/rootfs" \
  -n "network bridge" "$B start bridge $work $work/rootfs"
"$PY" bench/ratios.py "$work/start.json"
"$PY" - "$work/start.json" <<'PYEOF'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"the bridge network adds {r['network bridge'] - r['network none']:.1f} ms to a container start (goal ≤ 15 ms)")
PYEOF
$B warm "$work" 50
$B throughput "$work" "${TPUT_RUNS:-10}"
"$PY" bench/ratios.py "$work/throughput.json"
echo "(the ratio column of 'published port' is its throughput relative to the hand-made veth+DNAT; goal ≥ 0.9)"
