#!/usr/bin/env bash
# Chapter 7's benchmark: a debootstrap'ed Debian bookworm (one ~50 MB gzip layer, ~115 MB in
# ~6,700 files unpacked) through a local CNCF registry (docker-registry on 127.0.0.1), side by
# side in one hyperfine run each:
#   pull with unpack:  minidocker pull   vs   podman pull   (vs docker pull, when dockerd runs here)
#   push:              minidocker push   vs   skopeo copy (the same gzip blobs, from an OCI layout)
# Every pull starts from an empty store, every push from an empty registry. The image: BOOKWORM_TAR
# (a docker-archive) if set, else debian:bookworm from the default minidocker store, else made here
# once by scripts/mkimage-debian (about a minute; needs the Debian mirror). docker takes part when
# dockerd is installed (Debian's docker.io): a private dockerd is started here (no iptables, no
# bridge, cgroupfs, state in the work directory) and stopped.
# Prints medians (and CPU time) and their ratios through bench/ratios.py. Works in a tmpfs
# (/dev/shm unless BENCH_TMP says otherwise). Needs root, hyperfine, skopeo, podman, docker-registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d "${BENCH_TMP:-/dev/shm}/minidocker-pull.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  awk -v t="$work/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; exit 1; }
registry() {  # registry NAME PORT: an open registry with its storage under $work/NAME
  cat > "$work/$1.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/$1}, delete: {enabled: true}}
http: {addr: "127.0.0.1:$2", secret: bench}
YML
  docker-registry serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for "$2"
}

image=$work/image.tar
PYTHON=$PY bench/bookworm-image.sh "$image"
p1=$(port); registry source "$p1"
p2=$(port); registry target "$p2"
ref=127.0.0.1:$p1/library/debian:bookworm
skopeo copy -q --dest-tls-verify=false "docker-archive:$image" "docker://$ref"
skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/L:bookworm"

cat > "$work/containers.conf" <<CONF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf
podman="podman --root $work/podman --runroot $work/podman-run --tmpdir $work/podman-tmp --storage-driver overlay"
names=(-n "minidocker pull" "$PY -m minidocker --root $work/state pull -q $ref"
       -n "podman pull" "$podman pull -q --tls-verify=false $ref")
prepares=(--prepare "rm -rf $work/state" --prepare "sh -c '$podman rmi -a -f >/dev/null 2>&1; rm -rf $work/podman-tmp'")
dockerd=$(PATH=$PATH:/usr/sbin:/sbin command -v dockerd || true)
if [ -n "$dockerd" ] && [ -x /usr/bin/docker ]; then
  mkdir -p "$work/docker"
  "$dockerd" --data-root "$work/docker/root" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
    -H "unix://$work/docker/sock" --iptables=false --ip6tables=false --ip-forward=false --bridge=none \
    --exec-opt native.cgroupdriver=cgroupfs >"$work/docker/log" 2>&1 &
  pids+=($!)
  docker="/usr/bin/docker -H unix://$work/docker/sock"
  for _ in $(seq 100); do $docker version >/dev/null 2>&1 && break; sleep 0.1; done
  names+=(-n "docker pull" "$docker pull -q $ref")
  prepares+=(--prepare "sh -c '$docker rmi -f $ref >/dev/null 2>&1 || true'")
else
  echo "docker pull: not measured (dockerd is not installed here: apt-get install docker.io)"
fi
# A user's Python writes __pycache__; these sessions set PYTHONDONTWRITEBYTECODE, so compile first
# or every minidocker run below would time the compiler too.
"$PY" -m compileall -q minidocker >/dev/null 2>&1 || true
echo "== pull with unpack: $(du -sh "$work/L/blobs" | cut -f1) of blobs"
hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/pull.json" "${prepares[@]}" "${names[@]}"
"$PY" bench/ratios.py "$work/pull.json"

# push: a store that has the image (pulled, so its layer is the registry's gzip blob), another registry
push_ref=127.0.0.1:$p2/push/debian:bookworm
"$PY" -m minidocker --root "$work/pushing" pull -q "$ref" >/dev/null
"$PY" -m minidocker --root "$work/pushing" tag "$ref" "$push_ref"
echo "== push"
hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/push.json" --prepare "rm -rf $work/target/docker" \
  -n "minidocker push" "$PY -m minidocker --root $work/pushing push -q $push_ref" \
  -n "skopeo copy" "skopeo copy -q --dest-tls-verify=false oci:$work/L:bookworm docker://$push_ref"
"$PY" bench/ratios.py "$work/push.json"
