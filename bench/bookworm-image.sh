#!/usr/bin/env bash
# Write a debootstrap'ed Debian bookworm as a docker-archive to $1, for the benchmarks:
# BOOKWORM_TAR if set, else debian:bookworm saved from the default minidocker store
# (`sudo scripts/mkimage-debian` puts it there), else made once by scripts/mkimage-debian in a
# scratch store beside $1 (about a minute; needs the Debian mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
image=$1
if [ -n "${BOOKWORM_TAR:-}" ]; then
  cp "$BOOKWORM_TAR" "$image"
elif "$PY" -m minidocker image inspect debian:bookworm >/dev/null 2>&1; then
  "$PY" -m minidocker save -o "$image" debian:bookworm
else
  make=$(dirname "$image")/make
  MINIDOCKER_ROOT=$make PYTHON=$PY scripts/mkimage-debian bookworm debian:bookworm >/dev/null
  "$PY" -m minidocker --root "$make" save -o "$image" debian:bookworm
  rm -rf "$make"
fi
