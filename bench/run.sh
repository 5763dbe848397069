#!/usr/bin/env bash
# Chapter 1's benchmark: start+exit of `true` in a container, side by side in one hyperfine run.
#   minidocker run --rootfs R true   vs   unshare … chroot R /bin/true   vs   runc run
# Prints each median (and CPU time) and its ratio to minidocker's. Needs root, hyperfine and runc (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -c 'import compileall, minidocker, os; compileall.compile_dir(os.path.dirname(minidocker.__file__), quiet=1)'   # as installed
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh scripts/mkrootfs-busybox "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
"$PY" - "$work/bundle/config.json" <<'PYEOF'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, open(path, "w"), indent=1)
PYEOF
R=$work/bundle/rootfs
hyperfine -N --warmup 3 --runs ${RUNS:-30} --export-json "$work/result.json" \
  -n minidocker "$PY -m minidocker run --rootfs $R /bin/true" \
  -n "unshare+chroot" "unshare --pid --fork --mount --uts --ipc --net chroot $R /bin/true" \
  -n "runc run" "runc run --bundle $work/bundle minidocker-bench"
"$PY" bench/ratios.py "$work/result.json"
