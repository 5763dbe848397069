#!/usr/bin/env bash
# Chapter 6b's benchmark, all of it inside a fresh network namespace that plays the host:
#  1. `minidocker run --rm --network bridge busybox true` (attach, join the netns, detach) vs the
#     same with --network none: the network's cost on a start (goal: ≤ 15 ms more);
#     and the same attach+detach in a warm process (what it costs without Python's imports);
#  2. iperf3, 1 GiB from an outside client namespace, through a published port vs through a plain
#     veth + DNAT made by hand (goal: ≥ 0.9× the throughput; the data path is the kernel's), the
#     two in turn (A B A B …) so that a busy machine's slow moments fall on both.
#  3. podman's own bridge networking (CNI, here in the same lab namespace) against its --network none,
#     as a reference for what a network costs a start in another engine.
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
had_cni=$([ -e /var/lib/cni ] && echo 1 || true)       # CNI's result cache is always /var/lib/cni
cleanup() {
  [ -n "${podman:-}" ] && { $podman rm -af >/dev/null 2>&1 || true; }
  [ -z "$had_cni" ] && rm -rf /var/lib/cni
  awk -v t="$work/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
sh scripts/mkrootfs-busybox "$work/rootfs"
"$PY" -m compileall -q minidocker >/dev/null 2>&1 || true
B="$PY bench/network_bench.py"
"$PY" -m minidocker import "$work/rootfs" busybox:latest >/dev/null
hyperfine -N --warmup 3 --runs ${RUNS:-30} --export-json "$work/start.json" \
  -n "network none" "$PY -m minidocker run --rm --network none busybox true" \
  -n "network bridge" "$PY -m minidocker run --rm --network bridge busybox true"
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

# 3. podman, bridge vs none, its CNI configuration and IPAM state kept under $work
mkdir -p "$work/cni"
sed "s|\"type\": \"host-local\",|\"type\": \"host-local\", \"dataDir\": \"$work/cni-data\",|" \
  /etc/cni/net.d/87-podman-bridge.conflist > "$work/cni/87-podman-bridge.conflist"
cat > "$work/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_config_dir = "$work/cni"
CONF
export CONTAINERS_CONF=$work/containers.conf
podman="podman --root $work/podman --runroot $work/podman-run --tmpdir $work/podman-tmp --storage-driver vfs --runtime runc"
"$PY" -m minidocker save -o "$work/busybox.tar" busybox:latest
$podman load -q -i "$work/busybox.tar" >/dev/null
hyperfine -N --warmup 2 --runs ${PODMAN_RUNS:-10} --export-json "$work/podman.json" \
  -n "podman --network none" "$podman run --rm --network none busybox true" \
  -n "podman --network bridge" "$podman run --rm --network bridge busybox true"
"$PY" bench/ratios.py "$work/podman.json"
