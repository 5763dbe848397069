#!/usr/bin/env bash
# Chapter 6's start-up benchmark: one container from an image, removed after it exits, side by side
# in one hyperfine run:   minidocker run --rm busybox true   vs   podman run --rm --network none busybox true
# the same busybox image in both (minidocker saves it, podman loads it; podman runs runc with its own
# default seccomp profile, as minidocker now applies Docker's). Prints medians, CPU time and ratios.
# The third command shows what Docker's seccomp profile costs minidocker (compiled by libseccomp per start).
# Needs root, hyperfine and podman (./course setup). PYTHON=… picks the interpreter (and so the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/minidocker-engine.XXXXXX")
cat > "$work/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
export CONTAINERS_CONF=$work/containers.conf MINIDOCKER_ROOT=$work/md MINIDOCKER_RUNROOT=$work/md-run
podman="podman --root $work/podman --runroot $work/podman-run --tmpdir $work/podman-tmp --storage-driver overlay --runtime runc"
cleanup() {
  $podman rm -af >/dev/null 2>&1 || true
  $podman rmi -af >/dev/null 2>&1 || true
  awk -v t="$work/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

sh scripts/mkrootfs-busybox "$work/rootfs"
"$PY" -m minidocker import -c 'CMD ["sh"]' "$work/rootfs" busybox:latest >/dev/null
"$PY" -m minidocker save -o "$work/busybox.tar" busybox:latest
$podman load -q -i "$work/busybox.tar" >/dev/null
hyperfine -N ${SHOW:+--show-output} --warmup 3 --runs ${RUNS:-20} --export-json "$work/result.json" \
  -n "minidocker run --rm" "$PY -m minidocker run --rm busybox true" \
  -n "podman run --rm" "$podman run --rm --network none busybox true" \
  -n "minidocker, seccomp=unconfined" "$PY -m minidocker run --rm --security-opt seccomp=unconfined busybox true"
"$PY" bench/ratios.py "$work/result.json"
