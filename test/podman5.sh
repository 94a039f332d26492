#!/usr/bin/env bash
# Podman 5 for the integration suites, on a host whose own Podman is older (Debian 12: 4.3).
# A Debian 13 root filesystem (Podman 5.4, runc, netavark), built once with debootstrap and kept
# in CACHE, is mounted at MNT; the Podman fixture then starts its service inside it with chroot,
# in a network namespace of its own (no clash with the host's bridges).
#
#   podman5.sh up          builds the root filesystem if it is not cached, mounts it, adds the netns
#   podman5.sh down        stops what runs in it, unmounts, removes the netns
#   podman5.sh run CMD...  up, then CMD in the netns with FUNAI_PODMAN_CHROOT=MNT, then down
#
# Host paths that the suites share with the service are the same on both sides: /tmp (fixture
# storage, sockets, image tarballs) and /etc/containers/certs.d (the registry fixture's CA) are
# bind-mounted into MNT. Needs root.
#   FUNAI_PODMAN5_CACHE  where the root filesystem is kept (default /var/cache/fun-ai-runtime/podman5-trixie)
#   FUNAI_DEBIAN_MIRROR  Debian mirror (default: the first main archive of this machine's apt sources,
#                        /etc/apt/sources.list.d/*.sources, then sources.list and *.list)
set -euo pipefail
cache=${FUNAI_PODMAN5_CACHE:-/var/cache/fun-ai-runtime/podman5-trixie}
mnt=/run/funai-podman5/root
netns=funai-p5
packages=podman,netavark,aardvark-dns,runc,catatonit,iptables,nftables,ca-certificates
# netavark 1.14 sets up its firewall with nft (nftables). Changing the package list or the configuration below rebuilds the cache.
stamp="$packages v1"

[ "$(id -u)" = 0 ] || { echo "$0: needs root (chroot, mounts, network namespaces)" >&2; exit 1; }

# The URI of the first enabled Debian archive (not a security one) in apt's sources: deb822 stanzas
# first, then one-line "deb [options] URI suite ..." entries.
apt_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'BEGIN { RS = "" }
    { uri = ""; skip = 0; n = split($0, line, "\n")
      for (i = 1; i <= n; i++) {
        if (line[i] ~ /^URIs:/) { split(line[i], f, /[ \t]+/); uri = f[2] }
        if (line[i] ~ /^Suites:.*-security/ || line[i] ~ /^Enabled:[ \t]*no/ || line[i] ~ /^Types:/ && line[i] !~ /[ \t]deb([ \t]|$)/) skip = 1
      }
      if (uri != "" && !skip) { print uri; exit } }')
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed 's/\[[^]]*\]//' |
      awk '$1 == "deb" && $3 !~ /-security/ { print $2; exit }')
  fi
  echo "$uri"
}

build_rootfs() {
  if [ -f "$cache/.funai-podman5" ] && [ "$(cat "$cache/.funai-podman5")" = "$stamp" ]; then return; fi
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || { echo "$0: debootstrap is missing" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local mirror=${FUNAI_DEBIAN_MIRROR:-$(apt_mirror)}
  [ -n "$mirror" ] || { echo "$0: no Debian archive found in apt's sources: set FUNAI_DEBIAN_MIRROR" >&2; exit 1; }
  echo "podman5: building a Debian 13 root filesystem in $cache from $mirror (once; about a minute)"
  rm -rf "$cache.new"
  mkdir -p "$(dirname "$cache")"
  debootstrap --variant=minbase --include="$packages" trixie "$cache.new" "$mirror" >"$cache.log" 2>&1 ||
    { echo "$0: debootstrap failed:" >&2; tail -n 30 "$cache.log" >&2; exit 1; }
  # crun refuses cgroups v1 hybrid hosts: runc, as for the host's Podman (etc/containers.conf).
  cat > "$cache.new/etc/containers/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  echo "$stamp" > "$cache.new/.funai-podman5"
  rm -rf "$cache"
  mv "$cache.new" "$cache"
}

mounted() { mountpoint -q "$mnt"; }

up() {
  build_rootfs
  if ! mounted; then
    mkdir -p "$mnt"
    # The chroot's / must be a mount point, or Podman cannot unpack images ("remount /").
    mount --rbind "$cache" "$mnt" && mount --make-rslave "$mnt"
    for d in proc sys dev tmp; do mount --rbind "/$d" "$mnt/$d" && mount --make-rslave "$mnt/$d"; done
    mkdir -p /etc/containers/certs.d "$mnt/etc/containers/certs.d"
    mount --bind /etc/containers/certs.d "$mnt/etc/containers/certs.d"
  fi
  if ! ip netns list | grep -qw "^$netns"; then
    ip netns add "$netns"
    ip netns exec "$netns" ip link set lo up
  fi
  echo "podman5: $(chroot "$mnt" podman --version) at $mnt, network namespace $netns"
}

down() {
  # Whatever still runs with its root in MNT (a service, conmon, a container) goes first.
  local pids=() p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$mnt" ] && pids+=("${p#/proc/}")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    sleep 1
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  if mounted; then umount -R "$mnt" 2>/dev/null || umount -R -l "$mnt"; fi
  rmdir "$mnt" 2>/dev/null || true
  if ip netns list | grep -qw "^$netns"; then ip netns del "$netns"; fi
}

case "${1:-}" in
up) up ;;
down) down ;;
run)
  shift
  [ $# -gt 0 ] || { echo "usage: $0 run CMD..." >&2; exit 2; }
  down
  trap down EXIT
  up
  rc=0
  ip netns exec "$netns" env FUNAI_PODMAN_CHROOT="$mnt" "$@" || rc=$?
  exit $rc
  ;;
*) echo "usage: $0 up|down|run CMD..." >&2; exit 2 ;;
esac
