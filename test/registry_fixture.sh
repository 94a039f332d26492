#!/usr/bin/env bash
# Starts (setup) or stops (cleanup) a real container registry for the tests: Debian's
# docker-registry (distribution 2.8) with htpasswd auth, twice over one storage folder:
#   - plain HTTP on 127.0.0.1:HTTP_PORT, user 'robot$runner'
#   - TLS on 127.0.0.1:TLS_PORT with a certificate signed by a CA made here, user 'robot$second'
# libpod's pull API takes no certificate folder, so the CA is trusted through
# /etc/containers/certs.d/127.0.0.1:TLS_PORT/ca.crt, a folder for this fixture's own port only,
# removed by cleanup. Facts for the tests go to DIR/registry.env (KEY=VALUE).
#
#   registry_fixture.sh setup   STATEFILE
#   registry_fixture.sh cleanup STATEFILE
set -euo pipefail
cmd=$1 state=$2

. "$(dirname "$0")/free_port.sh"

case "$cmd" in
setup)
  if [ -f "$state" ]; then "$0" cleanup "$state" || true; fi
  command -v docker-registry >/dev/null || { echo "docker-registry is missing (apt-get install docker-registry)"; exit 1; }
  dir=$(mktemp -d /tmp/funai-registry.XXXXXX)
  echo "$dir" > "$state"
  http_port=$(free_port)
  tls_port=$(free_port)
  while [ "$tls_port" = "$http_port" ]; do tls_port=$(free_port); done
  user='robot$runner' password="runner-$RANDOM$RANDOM"
  user2='robot$second' password2="second-$RANDOM$RANDOM"
  htpasswd -Bbn "$user" "$password" > "$dir/htpasswd"
  htpasswd -Bbn "$user2" "$password2" > "$dir/htpasswd2"

  # A CA, and a server certificate for 127.0.0.1 signed by it.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=funai test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/srv.key" -out "$dir/srv.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$dir/san.ext"
  openssl x509 -req -in "$dir/srv.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/san.ext" -out "$dir/srv.crt" 2>/dev/null
  certs="/etc/containers/certs.d/127.0.0.1:$tls_port"
  mkdir -p "$certs" && cp "$dir/ca.crt" "$certs/ca.crt"
  echo "$certs" > "$dir/certs.d"

  for kind in http tls; do
    if [ $kind = http ]; then addr="127.0.0.1:$http_port" tls="" htp="$dir/htpasswd"
    else addr="127.0.0.1:$tls_port" tls="  tls: {certificate: $dir/srv.crt, key: $dir/srv.key}" htp="$dir/htpasswd2"; fi
    cat > "$dir/$kind.yml" <<CONF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: $addr
$tls
auth:
  htpasswd: {realm: funai-test, path: $htp}
CONF
    setsid docker-registry serve "$dir/$kind.yml" >"$dir/$kind.log" 2>&1 </dev/null &
    echo $! > "$dir/$kind.pid"
  done
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/v2/" || true)
    code2=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" "https://127.0.0.1:$tls_port/v2/" || true)
    [ "$code" = 401 ] && [ "$code2" = 401 ] && break
    sleep 0.1
  done
  [ "$code" = 401 ] && [ "$code2" = 401 ] || { echo "the registry did not start:"; cat "$dir"/*.log; exit 1; }
  cat > "$dir/registry.env" <<ENV
REGISTRY_HTTP='127.0.0.1:$http_port'
REGISTRY_TLS='127.0.0.1:$tls_port'
REGISTRY_USER='$user'
REGISTRY_PASSWORD='$password'
REGISTRY_TLS_USER='$user2'
REGISTRY_TLS_PASSWORD='$password2'
REGISTRY_DIR='$dir'
ENV
  echo "registry fixture ready: http 127.0.0.1:$http_port, tls 127.0.0.1:$tls_port"
  ;;
cleanup)
  [ -f "$state" ] || exit 0
  dir=$(cat "$state")
  for kind in http tls; do
    if [ -f "$dir/$kind.pid" ]; then kill "$(cat "$dir/$kind.pid")" 2>/dev/null || true; fi
  done
  if [ -f "$dir/certs.d" ]; then rm -rf "$(cat "$dir/certs.d")"; fi
  rm -rf "$dir" "$state"
  echo "registry fixture removed"
  ;;
*) echo "usage: $0 setup|cleanup STATEFILE"; exit 2 ;;
esac
