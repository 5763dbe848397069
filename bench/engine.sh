#!/usr/bin/env bash
# Chapter 6's start-up benchmark: one container from an image, removed after it exits, side by side
# in one hyperfine run:   minidocker run --rm --network none busybox true   vs   podman run --rm --network none busybox true
# the same busybox image in both (minidocker saves it, podman loads it; podman runs runc with its own
# default seccomp profile, as minidocker now applies Docker's). Prints medians, CPU time and ratios.
# The third command shows what Docker's seccomp profile still costs minidocker (the runtime caches its BPF program).
# Needs root, hyperfine and podman (./course setup). PYTHON=… picks the interpreter (and so the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/podman.sh
hyperfine -N ${SHOW:+--show-output} --warmup 3 --runs ${RUNS:-20} --export-json "$work/result.json" \
  -n "minidocker run --rm" "$PY -m minidocker run --rm --network none busybox true" \
  -n "podman run --rm" "$podman run --rm --network none busybox true" \
  -n "minidocker, seccomp=unconfined" "$PY -m minidocker run --rm --network none --security-opt seccomp=unconfined busybox true"
"$PY" bench/ratios.py "$work/result.json"
