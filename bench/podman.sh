# Sourced by chapter 6's benchmarks (engine.sh, containers.sh): what they share.
#   PY          the interpreter (PYTHON=… picks it, and so the tree), with the package's bytecode
#               compiled, as an installed package has it (the bench then measures no compile).
#   work        a private directory (removed on exit, its mounts undone) holding both state roots.
#   podman      podman on a private store in $work: runc, cgroupfs, overlay, no network.
#   MINIDOCKER_ROOT, MINIDOCKER_RUNROOT   minidocker's state in $work.
# The same busybox image is in both: minidocker imports it and saves it, podman loads that archive.
# Needs root, hyperfine and podman (./course setup).
PY=${PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/minidocker-$(basename "$0" .sh).XXXXXX")
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

"$PY" -c 'import compileall, minidocker, os; compileall.compile_dir(os.path.dirname(minidocker.__file__), quiet=1)'
sh scripts/mkrootfs-busybox "$work/rootfs"
"$PY" -m minidocker import -c 'CMD ["sh"]' "$work/rootfs" busybox:latest >/dev/null
"$PY" -m minidocker save -o "$work/busybox.tar" busybox:latest
$podman load -q -i "$work/busybox.tar" >/dev/null
