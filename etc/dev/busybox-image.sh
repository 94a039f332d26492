#!/usr/bin/env bash
# Builds a tiny app image from the static busybox binary, with no registry and no base image, and
# imports it into a Podman. Used by `make run` (its demo app) and by the tests' Podman fixture.
#
#   busybox-image.sh TAG CMD_JSON PAGE -- PODMAN_COMMAND...
#
# The image holds /bin/busybox with sh, httpd, sleep, echo, nc and cat, and /www/index.html whose
# text is PAGE. PODMAN_COMMAND is how to reach the Podman that gets it, for example
#   podman --root DIR/root --runroot DIR/run          (a storage of its own)
#   podman --url unix:///run/podman/podman.sock       (a running API service)
# IMAGE_PAD_MB=N adds /pad, N MB of random data (which no layer compression shrinks), for
# benchmarks with a realistic image size.
set -euo pipefail
if [ $# -lt 5 ] || [ "$4" != "--" ]; then
  echo "usage: $0 TAG CMD_JSON PAGE -- PODMAN_COMMAND..." >&2
  exit 2
fi
tag=$1 cmd=$2 page=$3
shift 4
busybox=$(command -v busybox) || { echo "$0: busybox not found (Debian: busybox-static, Fedora: busybox)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/funai-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/www" "$work/root/tmp"
cp "$busybox" "$work/root/bin/busybox"
for applet in sh httpd sleep echo nc cat; do ln -sf busybox "$work/root/bin/$applet"; done
printf '%s\n' "$page" > "$work/root/www/index.html"
if [ "${IMAGE_PAD_MB:-0}" -gt 0 ]; then head -c "$((IMAGE_PAD_MB * 1024 * 1024))" /dev/urandom > "$work/root/pad"; fi
tar -C "$work/root" -cf "$work/image.tar" .
"$@" import --quiet --change "CMD $cmd" "$work/image.tar" "$tag" >/dev/null
