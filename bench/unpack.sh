#!/usr/bin/env bash
# Chapter 4's benchmark: unpack one gzip layer (busybox + Python's standard library, ~thousands of
# files), side by side in one hyperfine run:
#   minidocker unpack_layer   vs   umoci unpack (the whole image: one layer + its mtree)   vs   tar -xzf
# Prints each median (and CPU time) and its ratio to minidocker's. Works in a tmpfs (/dev/shm unless
# BENCH_TMP says otherwise) so that disk writeback does not blur the figures.
# Needs root, hyperfine and umoci (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PY=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d -p "${BENCH_TMP:-/dev/shm}")
trap 'rm -rf "$work"' EXIT
cd "$work"
umoci init --layout L
umoci new --image L:base
umoci unpack --image L:base B >/dev/null
sh "$repo/scripts/mkrootfs-busybox" B/rootfs
mkdir -p B/rootfs/usr/lib
cp -a /usr/lib/python3.11 B/rootfs/usr/lib/
umoci repack --image L:bench B
blob=$("$PY" - <<'PYEOF'
import json
index = json.load(open("L/index.json"))
digest = next(m["digest"] for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "bench")
manifest = json.load(open("L/blobs/sha256/" + digest.split(":")[1]))
print("L/blobs/sha256/" + manifest["layers"][-1]["digest"].split(":")[1])
PYEOF
)
echo "layer: $(du -h "$blob" | cut -f1) gzip, $(tar -tzf "$blob" | wc -l) entries"
hyperfine -N --warmup 1 --runs ${RUNS:-10} --export-json result.json \
  --prepare "rm -rf $work/out" --prepare "rm -rf $work/out" \
  --prepare "sh -c 'rm -rf $work/out && mkdir $work/out'" \
  -n minidocker "$PY -c 'from minidocker.storage.layers import unpack_layer; unpack_layer(\"$work/$blob\", \"$work/out\")'" \
  -n "umoci unpack" "umoci unpack --image $work/L:bench $work/out" \
  -n "tar -xzf" "tar -xzf $work/$blob -C $work/out"
"$PY" "$repo/bench/ratios.py" result.json
