#!/usr/bin/env bash
# Starts (setup) or tears down (cleanup) a private Podman API service for the
# integration tests: its own socket, storage and containers.conf under DIR, and
# the small busybox test images. Nothing outside DIR is touched.
# DIR/podman runs the Podman that serves the socket: the host's, or with FUNAI_PODMAN_CHROOT set
# (test/podman5.sh run), the one in that root filesystem (Podman 5), through chroot.
#
#   podman_fixture.sh setup   STATEFILE CONTAINERS_CONF   (makes DIR with mktemp -d, writes it to STATEFILE)
#   podman_fixture.sh cleanup STATEFILE
set -euo pipefail
cmd=$1 state=$2
if [ "$cmd" = setup ]; then
  # A leftover from an interrupted run goes first.
  if [ -f "$state" ]; then "$0" cleanup "$state" || true; fi
  dir=$(mktemp -d /tmp/funai-podman.XXXXXX)
  echo "$dir" > "$state"
else
  [ -f "$state" ] || exit 0
  dir=$(cat "$state")
fi

networks="$(dirname "$0")/../etc/dev/private-network.sh"

podman_private() {
  CONTAINERS_CONF="$dir/containers.conf" "$dir/podman" --root "$dir/root" --runroot "$dir/run" \
    --tmpdir "$dir/tmp" "$@"
}

build_image() { # name cmd-json
  "$(dirname "$0")/../etc/dev/busybox-image.sh" "localhost/funai-test-$1:1" "$2" "hello from $1" -- \
    env CONTAINERS_CONF="$dir/containers.conf" "$dir/podman" --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp"
}

case "$cmd" in
setup)
  conf=$3
  mkdir -p "$dir/tmp"
  cp "$conf" "$dir/containers.conf"
  # Networks of its own: definitions in DIR, a subnet pool and a bridge no other service shares.
  bridge=$("$networks" claim "$dir/containers.conf" "$dir/networks")
  if [ -n "${FUNAI_PODMAN_CHROOT:-}" ]; then
    printf '#!/bin/sh\nexec chroot %q env PODMAN_IGNORE_CGROUPSV1_WARNING=1 podman "$@"\n' "$FUNAI_PODMAN_CHROOT" > "$dir/podman"
  else
    printf '#!/bin/sh\nexec podman "$@"\n' > "$dir/podman"
  fi
  chmod +x "$dir/podman"
  # Apps run in user namespaces of their own (userns=auto): the ids come from /etc/subuid and
  # /etc/subgid, the chroot's when Podman runs in one.
  "$(dirname "$0")/../etc/dev/subid-range.sh" "${FUNAI_PODMAN_CHROOT:-/}"
  # The wrapper, chroot and env exec: the pid is the service's own.
  CONTAINERS_CONF="$dir/containers.conf" setsid "$dir/podman" --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp" \
    system service --time=0 "unix://$dir/podman.sock" >"$dir/service.log" 2>&1 < /dev/null &
  echo $! > "$dir/service.pid"
  for _ in $(seq 1 100); do
    if curl -sf --unix-socket "$dir/podman.sock" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  curl -sf --unix-socket "$dir/podman.sock" http://d/v4.0.0/libpod/_ping >/dev/null \
    || { echo "podman service did not start:"; cat "$dir/service.log"; exit 1; }
  # The suites' networks on bridges of their own: the apps' (Settings::network) and podman_client_test's.
  "$networks" create "$dir/podman.sock" funai-test-net "$bridge"
  "$networks" create "$dir/podman.sock" funai-client-net "${bridge}c"
  # serves HTTP on 8080 at once
  build_image httpd '["/bin/httpd","-f","-p","8080","-h","/www"]'
  # same, with another page (a "new version")
  build_image httpd2 '["/bin/sh","-c","echo v2 > /www/index.html; exec /bin/httpd -f -p 8080 -h /www"]'
  # listens only after 3 seconds
  build_image slow '["/bin/sh","-c","sleep 3; exec /bin/httpd -f -p 8080 -h /www"]'
  # prints a message and exits non-zero
  build_image crash '["/bin/sh","-c","echo fatal: app crashed on purpose >&2; exit 3"]'
  # writes a line to stdout and one to stderr, then serves
  build_image chatty '["/bin/sh","-c","echo out-line-1; echo err-line-1 >&2; echo out-line-2; exec /bin/httpd -f -p 8080 -h /www"]'
  # runs but never listens
  build_image nolisten '["/bin/sleep","100000"]'
  # An HTTP echo for relays (busybox nc and sh): answers with the request it got, head and body, as
  # its body until the client ends; an upgrade request gets 101, then every byte back.
  build_image echo '["/bin/nc", "-ll", "-p", "8080", "-e", "/bin/sh", "-c", "cr=$(printf \"\\r\"); nl=$(printf \"\\nx\"); nl=${nl%x}; up=; head=; while IFS= read -r line; do head=\"$head$line$nl\"; case \"$line\" in [Uu]pgrade:*) up=1;; esac; [ \"$line\" = \"$cr\" ] && break; done; if [ -n \"$up\" ]; then printf \"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n\"; else printf \"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n\"; fi; printf \"%s\" \"$head\"; exec cat"]'
  # serves on its first start, exits on every later one (an app that cannot wake)
  build_image crashonwake '["/bin/sh","-c","if [ -f /www/started ]; then echo fatal: will not start twice >&2; exit 3; fi; echo yes > /www/started; exec /bin/httpd -f -p 8080 -h /www"]'
  podman_private --version | awk '{print $NF}' > "$dir/version"
  echo "podman fixture ready at $dir/podman.sock: Podman $(cat "$dir/version")"
  ;;
cleanup)
  if [ -S "$dir/podman.sock" ]; then
    podman_private rm -af -t 0 >/dev/null 2>&1 || true
    podman_private pod rm -af >/dev/null 2>&1 || true
    for n in $(podman_private network ls -q 2>/dev/null | grep -v '^podman$'); do
      podman_private network rm -f "$n" >/dev/null 2>&1 || true
    done
  fi
  if [ -f "$dir/service.pid" ]; then
    kill "$(cat "$dir/service.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$(cat "$dir/service.pid")" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever still serves this fixture's socket (a service restarted by a test) goes too.
  pkill -f "unix://$dir/podman.sock" 2>/dev/null || true
  podman_private system reset -f >/dev/null 2>&1 || true
  # overlay mounts may remain; unmount before removing
  grep -e " $dir/" -e " ${FUNAI_PODMAN_CHROOT:-/nonexistent}$dir/" /proc/mounts | awk '{print $2}' | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  "$networks" release "$dir/containers.conf"
  rm -rf "$dir" "$state"
  echo "podman fixture removed"
  ;;
*) echo "usage: $0 setup|cleanup STATEFILE [CONTAINERS_CONF]"; exit 2 ;;
esac
