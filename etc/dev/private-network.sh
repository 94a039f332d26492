#!/usr/bin/env bash
# Gives a private Podman service (a test fixture's, `make run`'s) networks that no other service on
# this host shares. Appends to CONTAINERS_CONF a [network] section: its network definitions in
# NETWORK_CONFIG_DIR, and a subnet pool 10.N.0.0/16 (N in 160-239) that no other such service holds
# and no route of the host uses. Prints a bridge name for the service's main network, funaiN: create
# that network with `--interface-name` so that it has a bridge of its own.
#
# Why: Podman gives every service the same 10.89.0.0/24 and the same bridge name for its first
# network, avoiding only the subnets and bridges it knows or sees up. Two services that create a
# network before either runs a container on it (two test runs, `make run` beside `make test`) end
# up on one bridge with the same addresses, and the first to remove its network takes the bridge
# from under the other's containers.
#
#   private-network.sh CONTAINERS_CONF NETWORK_CONFIG_DIR
#
# A pool is held while the CONTAINERS_CONF that took it still names it (claims under
# FUNAI_NETWORK_CLAIMS, default /tmp/funai-networks); a removed fixture frees its pool.
set -euo pipefail
conf=$1 netdir=$2
claims=${FUNAI_NETWORK_CLAIMS:-/tmp/funai-networks}
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
  exit 0
done
echo "$0: no free subnet pool among 10.160.0.0/16 to 10.239.0.0/16 (see $claims)" >&2
exit 1
