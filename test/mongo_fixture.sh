#!/usr/bin/env bash
# Starts (setup) or stops (cleanup) a real MongoDB-protocol server for the tests: FerretDB 1.24
# (test/install_ferretdb.sh, run by make deps) with its SQLite backend in a folder of its own, on
# 127.0.0.1 and a free port, with SCRAM authentication on and one user (so a wrong password
# fails for real). Facts for the tests go to DIR/mongo.env (KEY=VALUE).
#
#   mongo_fixture.sh setup   STATEFILE
#   mongo_fixture.sh cleanup STATEFILE
set -euo pipefail
cmd=$1 state=$2

. "$(dirname "$0")/free_port.sh"

ferretdb=/usr/local/bin/ferretdb
[ -x "$ferretdb" ] || ferretdb=$(command -v ferretdb || true)

case "$cmd" in
setup)
  if [ -f "$state" ]; then "$0" cleanup "$state" || true; fi
  [ -n "$ferretdb" ] && [ -x "$ferretdb" ] || { echo "ferretdb is missing: run make deps (test/install_ferretdb.sh)"; exit 1; }
  dir=$(mktemp -d /tmp/funai-mongo.XXXXXX)
  echo "$dir" > "$state"
  mkdir -p "$dir/data"
  port=$(free_port)
  user=funai password="mongo-$RANDOM$RANDOM@:/x"  # characters a URI must percent-encode
  setsid "$ferretdb" --handler=sqlite --sqlite-url="file:$dir/data/" --listen-addr="127.0.0.1:$port" \
    --telemetry=disable --debug-addr=- --log-level=warn \
    --test-enable-new-auth --setup-database=admin --setup-username="$user" --setup-password="$password" \
    >"$dir/ferretdb.log" 2>&1 </dev/null &
  echo $! > "$dir/ferretdb.pid"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$(cat "$dir/ferretdb.pid")" 2>/dev/null || { echo "ferretdb exited:"; cat "$dir/ferretdb.log"; exit 1; }
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "ferretdb did not listen on $port:"; cat "$dir/ferretdb.log"; exit 1; }
  {
    echo "MONGO_HOST=127.0.0.1"
    echo "MONGO_PORT=$port"
    echo "MONGO_USERNAME=$user"
    echo "MONGO_PASSWORD=$password"
    echo "MONGO_PID=$(cat "$dir/ferretdb.pid")"
    echo "MONGO_DIR=$dir"
    echo "MONGO_SERVER=FerretDB $("$ferretdb" --version 2>/dev/null | sed -n 's/^version: //p')"
  } > "$dir/mongo.env"
  echo "FerretDB on 127.0.0.1:$port ($dir)"
  ;;
cleanup)
  [ -f "$state" ] || exit 0
  dir=$(cat "$state")
  if [ -f "$dir/ferretdb.pid" ]; then
    pid=$(cat "$dir/ferretdb.pid")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir" "$state"
  ;;
*) echo "usage: $0 setup|cleanup STATEFILE" >&2; exit 2 ;;
esac
