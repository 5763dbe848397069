#!/usr/bin/env bash
# Chapter 6, second part: the detached life cycle against podman's, side by side in one hyperfine run each.
#   create+start (run -d) + stop -t 0 + rm     minidocker vs podman (conmon, runc)
#   exec true into a running container         minidocker vs podman exec
#   the supervisor's memory (PSS) per container next to conmon's
# podman runs runc (crun refuses the hybrid cgroups of these machines).
# Prints medians, CPU time and ratios (bench/ratios.py). Needs root, hyperfine, podman (./course setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
RUNS=${RUNS:-15}
work=$(mktemp -d /tmp/mdbench.XXXX)
export MINIDOCKER_ROOT=$work/md MINIDOCKER_RUNROOT=$work/mdrun CONTAINERS_CONF=$work/containers.conf
printf '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$CONTAINERS_CONF"
MD="$PY -m minidocker"
PODMAN="podman --root $work/p --runroot $work/pr --storage-driver vfs --tmpdir $work/pt --runtime runc"
cleanup() {
  $PY -c "from minidocker.container import lifecycle, record
for r in record.all_records(): lifecycle.remove_record(r, volumes=True)" || true
  $PODMAN rm --all --force --time 0 >/dev/null 2>&1 || true
  $PODMAN rmi --all --force >/dev/null 2>&1 || true
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
sh scripts/mkrootfs-busybox "$work/rootfs" >/dev/null
$MD import -c 'CMD ["sh"]' "$work/rootfs" busybox:latest >/dev/null
tar -C "$work/rootfs" -c . | $PODMAN import - localhost/busybox:latest >/dev/null
"$PY" -m compileall -q minidocker >/dev/null 2>&1 || true

hyperfine --warmup 2 --runs "$RUNS" --export-json "$work/detached.json" \
  -n "minidocker create+start+stop+rm" "c=\$($MD create --network none busybox sleep 100) && $MD start \$c >/dev/null && $MD stop -t 0 \$c >/dev/null && $MD rm \$c >/dev/null" \
  -n "podman run -d+stop+rm" "c=\$($PODMAN run -d busybox sleep 100) && $PODMAN stop -t 0 \$c >/dev/null && $PODMAN rm \$c >/dev/null"
"$PY" bench/ratios.py "$work/detached.json"

md=$($MD create --network none busybox sleep 1000) && $MD start "$md" >/dev/null
pd=$($PODMAN run -d busybox sleep 1000)
hyperfine -N --warmup 3 --runs "$((RUNS * 2))" --export-json "$work/exec.json" \
  -n "minidocker exec true" "$MD exec $md true" \
  -n "podman exec true" "$PODMAN exec $pd true"
"$PY" bench/ratios.py "$work/exec.json"

pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
supervisor=$(cut -d' ' -f1 "$MINIDOCKER_RUNROOT/containers/$md/supervisor.pid")
conmon=$($PODMAN inspect -f '{{.State.ConmonPid}}' "$pd")
s=$(pss "$supervisor"); c=$(pss "$conmon")
printf '\nmemory per container   PSS kB   supervisor / it\nminidocker supervisor  %6s   %15.2f\nconmon                 %6s   %15.2f\n' \
  "$s" 1 "$c" "$(echo "$s / $c" | bc -l)"
