# Sourced by the bookworm benchmarks (bookworm.sh, pull.sh): put debian:bookworm as a
# docker-archive at $work/image.tar — BOOKWORM_TAR if set, else debian:bookworm saved from the
# default minidocker store (`sudo scripts/mkimage-debian` puts it there), else made here once by
# scripts/mkimage-debian (about a minute; needs the Debian mirror). Needs $PY and $work.
image=$work/image.tar
if [ -n "${BOOKWORM_TAR:-}" ]; then
  cp "$BOOKWORM_TAR" "$image"
elif "$PY" -m minidocker image inspect debian:bookworm >/dev/null 2>&1; then
  "$PY" -m minidocker save -o "$image" debian:bookworm
else
  MINIDOCKER_ROOT=$work/make PYTHON=$PY scripts/mkimage-debian bookworm debian:bookworm >/dev/null
  "$PY" -m minidocker --root "$work/make" save -o "$image" debian:bookworm
  rm -rf "$work/make"
fi
