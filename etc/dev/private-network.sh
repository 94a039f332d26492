#!/usr/bin/env bash
# Gives a private Podman service (a test fixture's, `make run`'s) networks that no other service on
# this host shares.
#
# Why: Podman gives every service the same 10.89.0.0/24 and the same bridge name for its first
# network, avoiding only the subnets and bridges it knows or sees up. Two services that create a
# network before either runs a container on it (two test runs, `make run` beside `make test`) end
# up on one bridge with the same addresses, and the first to remove its network takes the bridge
# from under the other's containers.
#
#   private-network.sh claim CONTAINERS_CONF NETWORK_CONFIG_DIR
#       Appends to CONTAINERS_CONF a [network] section: network definitions in NETWORK_CONFIG_DIR, and
#       a subnet pool 10.N.0.0/16 (N in 160-239) that no other such service holds and no route of the
#       host uses. Prints a bridge name, funaiN, unique too, for `create`.
#   private-network.sh create SOCKET NAME BRIDGE
#       Creates the network NAME on the Podman API at SOCKET (a path) with the bridge BRIDGE, through
#       the API: Podman 4.3's command line has no --interface-name.
#   private-network.sh release CONTAINERS_CONF
#       Frees the pool that CONTAINERS_CONF holds.
#
# Claims live under FUNAI_NETWORK_CLAIMS (default /tmp/funai-networks). A pool is also free again
# once the CONTAINERS_CONF that took it is gone or no longer names it.
set -euo pipefail
claims=${FUNAI_NETWORK_CLAIMS:-/tmp/funai-networks}

claim() {
  local conf=$1 netdir=$2 routes start i n pool claim owner
  mkdir -p "$claims" "$netdir"
  # One service at a time looks and claims: a claim is written before its configuration names the
  # pool, and another service must not take that moment for a stale claim.
  exec 9>"$claims/.lock"
  flock 9
  if command -v ip >/dev/null; then
    routes=$(ip -4 route || true)
  else
    routes=""
    echo "$0: no 'ip' command: host routes not checked against the pool" >&2
  fi
  start=$(($(od -An -N2 -tu2 /dev/urandom) % 80))
  for i in $(seq 0 79); do
    n=$((160 + (start + i) % 80))
    pool="10.$n.0.0/16"
    claim="$claims/10.$n"
    if [ -e "$claim" ]; then
      owner=$(cat "$claim" 2>/dev/null || true)
      if [ -n "$owner" ] && grep -qsF "\"$pool\"" "$owner"; then continue; fi
      rm -f "$claim"  # its service is gone
    fi
    if grep -q "^10\.$n\." <<<"$routes"; then continue; fi
    if [ -e "/sys/class/net/funai$n" ]; then continue; fi
    echo "$conf" >"$claim"
    printf '\n[network]\nnetwork_config_dir = "%s"\ndefault_subnet_pools = [{"base" = "%s", "size" = 24}]\n' \
      "$netdir" "$pool" >>"$conf"
    echo "funai$n"
    return 0
  done
  echo "$0: no free subnet pool among 10.160.0.0/16 to 10.239.0.0/16 (see $claims)" >&2
  return 1
}

create() {
  local socket=$1 name=$2 bridge=$3
  curl -sf --unix-socket "$socket" -X POST http://d/v4.0.0/libpod/networks/create -H 'Content-Type: application/json' \
    -d "{\"name\":\"$name\",\"driver\":\"bridge\",\"dns_enabled\":true,\"network_interface\":\"$bridge\"}" >/dev/null ||
    { echo "$0: cannot create the network $name ($bridge) on $socket" >&2; return 1; }
}

release() {
  { grep -lsxF "$1" "$claims"/10.* || true; } | xargs -r rm -f
}

usage() {
  echo "usage: $0 claim CONTAINERS_CONF NETWORK_CONFIG_DIR | create SOCKET NAME BRIDGE | release CONTAINERS_CONF" >&2
  exit 2
}
case "${1:-}" in
claim) [ $# -eq 3 ] || usage; claim "$2" "$3" ;;
create) [ $# -eq 4 ] || usage; create "$2" "$3" "$4" ;;
release) [ $# -eq 2 ] || usage; release "$2" ;;
*) usage ;;
esac
