#!/usr/bin/env bash
# Chapter 5's benchmark: load + unpack one image (busybox + Python's standard library, one gzip
# layer of thousands of files), side by side in one hyperfine run:
#   minidocker load   vs   podman load   vs   umoci unpack (the OCI layout the archive came from)
# Each run starts from an empty store. Prints each median (and CPU time) and its ratio to
# minidocker's. Works in a tmpfs (/dev/shm unless BENCH_TMP says otherwise).
# Needs root, hyperfine, umoci, skopeo and podman (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d "${BENCH_TMP:-/dev/shm}/minidocker-load.XXXXXX")
trap 'rm -rf "$work"' EXIT
sh scripts/mkrootfs-busybox "$work/rootfs"
cp -a /usr/lib/python3.11 "$work/rootfs/usr/lib/" 2>/dev/null || true
umoci init --layout "$work/L"
umoci new --image "$work/L:bench"
umoci unpack --image "$work/L:bench" "$work/bundle"
rm -rf "$work/bundle/rootfs" && mv "$work/rootfs" "$work/bundle/rootfs"
umoci repack --image "$work/L:bench" "$work/bundle"
rm -rf "$work/bundle"
skopeo copy -q "oci:$work/L:bench" "docker-archive:$work/image.tar:bench/load:1"
cat > "$work/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf
podman="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"
hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-json "$work/result.json" \
  --prepare "rm -rf $work/state $work/podman $work/podman-run $work/out" \
  -n "minidocker load" "$PY -m minidocker --root $work/state load -q -i $work/image.tar" \
  -n "podman load" "$podman load -q -i $work/image.tar" \
  -n "umoci unpack" "umoci unpack --image $work/L:bench $work/out"
"$PY" bench/ratios.py "$work/result.json"
du -sh "$work/image.tar" | sed 's/^/archive size: /'
