#!/usr/bin/env bash
# Chapter 7's registry server against the CNCF registry (docker-registry, distribution 2.8), side
# by side, on loopback, with skopeo as the client of both:
#   push:   skopeo copy oci:LAYOUT -> docker://REGISTRY   (each run starts from an empty registry)
#   pull:   skopeo copy docker://REGISTRY -> oci:DIR
#   pull10: ten such pulls of the same image at once
# The image is a debootstrap'ed Debian bookworm (one gzip layer, ~50 MB): BOOKWORM_TAR (a
# docker-archive) if set, else debian:bookworm from the default minidocker store, else made here
# once by scripts/mkimage-debian (about a minute; needs the Debian mirror). Both servers run
# without auth and store to the same tmpfs (/dev/shm unless BENCH_TMP says otherwise). Prints each
# median and CPU time (the client's) and minidocker's time divided by it (goal: at most 1.5).
# Needs root, hyperfine, skopeo, docker-registry (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
export PYTHONPATH=$PWD
work=$(mktemp -d "${BENCH_TMP:-/dev/shm}/minidocker-registry.XXXXXX")
stop() { [ -f "$work/$1.pid" ] && kill "$(cat "$work/$1.pid")" 2>/dev/null; rm -f "$work/$1.pid"; }
trap 'stop md; stop dist; rm -rf "$work"' EXIT

image=$work/image.tar
PYTHON=$PY bench/bookworm-image.sh "$image"
skopeo copy -q --dest-compress "docker-archive:$image" "oci:$work/L:bookworm"
echo "image: $(du -sh --apparent-size "$work/L" | cut -f1) OCI layout (gzip layer)"

md_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dist_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/distribution.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $work/dist-root}
  delete: {enabled: true}
http: {addr: "127.0.0.1:$dist_port"}
YML
# (Re)start a server on an empty root: what each push run is prepared with.
cat > "$work/fresh" <<SH
#!/usr/bin/env bash
set -e
wait_port() { for _ in \$(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/\$1) 2>/dev/null && return; sleep 0.05; done; exit 1; }
[ -f $work/\$1.pid ] && kill \$(cat $work/\$1.pid) 2>/dev/null && sleep 0.2 || true
rm -rf $work/\$1-root
if [ \$1 = md ]; then
  setsid $PY -m minidocker registry serve --addr 127.0.0.1:$md_port --root $work/md-root >/dev/null 2>&1 &
  echo \$! > $work/md.pid; wait_port $md_port
else
  setsid docker-registry serve $work/distribution.yml >/dev/null 2>&1 &
  echo \$! > $work/dist.pid; wait_port $dist_port
fi
SH
chmod +x "$work/fresh"
push() { echo "skopeo copy -q --dest-tls-verify=false oci:$work/L:bookworm docker://127.0.0.1:$1/debian:bookworm"; }
pull() { echo "skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$1/debian:bookworm oci:$work/out-$2:x"; }
pull10() { echo "bash -c 'for i in 0 1 2 3 4 5 6 7 8 9; do $(pull "$1" "$2\$i") & done; wait'"; }

echo; echo "== push (an empty registry each run)"
hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/push.json" \
  --prepare "$work/fresh md" -n "minidocker registry" "$(push "$md_port")" \
  --prepare "$work/fresh dist" -n "distribution" "$(push "$dist_port")"
"$PY" bench/ratios.py "$work/push.json"

echo; echo "== pull"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/pull.json" --prepare "rm -rf $work/out-*" \
  -n "minidocker registry" "$(pull "$md_port" md)" -n "distribution" "$(pull "$dist_port" dist)"
"$PY" bench/ratios.py "$work/pull.json"

echo; echo "== 10 parallel pulls"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/pull10.json" --prepare "rm -rf $work/out-*" \
  -n "minidocker registry" "$(pull10 "$md_port" md)" -n "distribution" "$(pull10 "$dist_port" dist)"
"$PY" bench/ratios.py "$work/pull10.json"
