#!/usr/bin/env bash
# etc/dev/private-network.sh: private Podman services (test fixtures, `make run`) get subnet pools and
# bridge names that no other one holds, also when they ask at the same moment; a pool is free again
# once the configuration that took it is gone.
#   private_network_test.sh SOURCE_DIR
set -uo pipefail
script=$1/etc/dev/private-network.sh
passed=0 failed=0
check() { # description, condition
  if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Claims of their own: taking every pool below must not starve a real service starting meanwhile.
export FUNAI_NETWORK_CLAIMS=$tmp/claims

echo "[containers]" > "$tmp/a.conf"
bridge=$("$script" claim "$tmp/a.conf" "$tmp/a-networks"); rc=$?
n=${bridge#funai}
check "prints a bridge name funaiN with N in 160-239 ($bridge)" '[ $rc -eq 0 ] && [[ $bridge =~ ^funai[0-9]+$ ]] && [ "$n" -ge 160 ] && [ "$n" -le 239 ]'
check "the configuration keeps what it had and gets the section" \
  'grep -qx "\[containers\]" "$tmp/a.conf" && grep -qx "network_config_dir = \"$tmp/a-networks\"" "$tmp/a.conf"'
check "the pool matches the bridge name" 'grep -qxF "default_subnet_pools = [{\"base\" = \"10.$n.0.0/16\", \"size\" = 24}]" "$tmp/a.conf"'
check "the definitions folder exists" '[ -d "$tmp/a-networks" ]'
check "the claim names the configuration" '[ "$(cat "$FUNAI_NETWORK_CLAIMS/10.$n")" = "$tmp/a.conf" ]'

# Twenty services at once, beside the first.
for i in $(seq 1 20); do
  : > "$tmp/p$i.conf"
  "$script" claim "$tmp/p$i.conf" "$tmp/p$i-networks" > "$tmp/p$i.out" &
done
wait
check "21 services asking at once get 21 different pools and bridges" \
  '[ "$(cat "$tmp"/p*.out | sort -u | wc -l)" -eq 20 ] && ! grep -qx "$bridge" "$tmp"/p*.out'
check "each configuration names the pool of the bridge it was given" \
  'for i in $(seq 1 20); do m=$(sed "s/funai//" "$tmp/p$i.out"); grep -qF "\"10.$m.0.0/16\"" "$tmp/p$i.conf" || exit 1; done'

# A service that stops releases its pool.
m1=$(sed "s/funai//" "$tmp/p1.out")
"$script" release "$tmp/p1.conf"
check "release frees the pool of that configuration only" \
  '[ ! -e "$FUNAI_NETWORK_CLAIMS/10.$m1" ] && [ "$(cat "$FUNAI_NETWORK_CLAIMS/10.$n")" = "$tmp/a.conf" ]'
out=$("$script" frobnicate 2>&1); rc=$?
check "an unknown command prints the usage (exit $rc)" '[ $rc -eq 2 ] && grep -q "usage:" <<<"$out"'

# The first service is gone: its claim no longer holds the pool.
rm -f "$tmp/a.conf"
for i in $(seq 1 80); do : > "$tmp/q$i.conf"; "$script" claim "$tmp/q$i.conf" "$tmp/q$i-networks" > "$tmp/q$i.out" 2>/dev/null || break; done
check "a gone service's pool is given again (more services, until every pool is taken)" 'grep -qx "$bridge" "$tmp"/q*.out'
: > "$tmp/full.conf"
out=$("$script" claim "$tmp/full.conf" "$tmp/full-networks" 2>&1); rc=$?
check "with every pool held, it fails and says so" '[ $rc -ne 0 ] && grep -q "no free subnet pool" <<<"$out" && ! grep -q "\[network\]" "$tmp/full.conf"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
