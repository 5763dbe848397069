#!/usr/bin/env bash
# Chapter 1's benchmark: start+exit of `true` in a container, side by side in one hyperfine run.
#   minidocker run --rootfs R true   vs   unshare … chroot R /bin/true   vs   runc run
# Prints each median and its ratio to minidocker's. Needs root, hyperfine and runc (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
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
"$PY" - "$work/result.json" <<'PYEOF'
import json, sys
results = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
ours = results["minidocker"]
print(f"\n{'command':<16} {'median ms':>10} {'minidocker / it':>16}")
for name, ms in results.items():
    print(f"{name:<16} {ms:>10.1f} {ours / ms:>16.2f}")
PYEOF
