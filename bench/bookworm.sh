#!/usr/bin/env bash
# Chapter 5's benchmark on a real distribution: load + unpack a debootstrap'ed Debian bookworm
# (one layer, ~115 MB in ~6,700 files), side by side in one hyperfine run:
#   minidocker load   vs   podman load   vs   umoci unpack (the same image as an OCI layout)
# minidocker and podman read the archive's plain layer tar; umoci gunzips the layer skopeo
# compressed when it copied the archive into the layout.
# Each run starts from an empty store. The image is a docker-archive: BOOKWORM_TAR if set, else
# debian:bookworm saved from the default minidocker store (`sudo scripts/mkimage-debian` puts it
# there), else made here once by scripts/mkimage-debian (about a minute; needs the Debian mirror).
# Prints each median (and CPU time) and its ratio to minidocker's. Works in a tmpfs (/dev/shm
# unless BENCH_TMP says otherwise). Needs root, hyperfine, umoci, skopeo, podman (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d "${BENCH_TMP:-/dev/shm}/minidocker-bookworm.XXXXXX")
cat > "$work/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf  # podman only loads here: no network, no ulimits
podman="podman --root $work/podman --runroot $work/podman-run --tmpdir $work/podman-tmp --storage-driver overlay"
cleanup() {  # `podman load` leaves no mount; unmount anything that is, and never delete through one
  awk -v t="$work/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

. bench/bookworm-image.sh     # sets image=$work/image.tar
skopeo copy -q "docker-archive:$image" "oci:$work/L:bookworm"
layer=$("$PY" -c 'import json, sys, tarfile
print(json.load(tarfile.open(sys.argv[1]).extractfile("manifest.json"))[0]["Layers"][0])' "$image")
echo "image: $(du -h --apparent-size "$image" | cut -f1) docker-archive, $(tar -xOf "$image" "$layer" | tar -t | wc -l)" \
     "entries; OCI layout: $(du -sh --apparent-size "$work/L" | cut -f1)"

hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/result.json" \
  --prepare "rm -rf $work/state $work/podman $work/podman-run $work/podman-tmp $work/out" \
  -n "minidocker load" "$PY -m minidocker --root $work/state load -q -i $image" \
  -n "podman load" "$podman load -q -i $image" \
  -n "umoci unpack" "umoci unpack --image $work/L:bookworm $work/out"
"$PY" bench/ratios.py "$work/result.json"
