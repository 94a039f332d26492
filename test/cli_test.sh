#!/usr/bin/env bash
# The executable's command line: --help, --version, --check-config (masked secrets, exit 1 naming
# bad keys), --config with the environment winning, and refusing to start on bad settings.
#   cli_test.sh AGENT_BINARY
set -uo pipefail
agent=$1
passed=0 failed=0
check() { # description, condition
  if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; return 1; fi
}
. "$(dirname "$0")/free_port.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$agent" --help); rc=$?
check "--help exits 0 and lists the options" '[ $rc -eq 0 ] && grep -q -- "--check-config" <<<"$out" && grep -q -- "--config" <<<"$out"'
out=$("$agent" --version); rc=$?
check "--version prints the version" '[ $rc -eq 0 ] && [[ $out =~ ^fun-ai-runtime-agent\ [0-9]+\.[0-9]+\.[0-9]+$ ]]'

for word in doctr serve; do
  out=$(env -i RUNTIME_AGENT_TOKEN=t FUNAI_LOG_DIR="$tmp/logs" timeout 5 "$agent" $word 2>&1); rc=$?
  check "an unknown word ('$word') is refused with exit 64 and the usage" \
    '[ $rc -eq 64 ] && grep -q "unknown argument .$word." <<<"$out" && grep -q -- "--check-config" <<<"$out"'
done
out=$(env -i RUNTIME_AGENT_TOKEN=t FUNAI_LOG_DIR="$tmp/logs" timeout 5 "$agent" --frobnicate 2>&1); rc=$?
check "an unknown option is refused (exit $rc)" '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi "frobnicate" <<<"$out"'

out=$(env -i RUNTIME_AGENT_TOKEN=supersecret-value DEPLOY_NODE_TOKEN=node-secret-value "$agent" --check-config 2>&1); rc=$?
check "--check-config of good settings exits 0" '[ $rc -eq 0 ]'
check "--check-config masks secrets" '! grep -q "supersecret-value\|node-secret-value" <<<"$out" && grep -q "^RUNTIME_AGENT_TOKEN=\*\*\*\*\*\*" <<<"$out"'
check "--check-config prints every key" '[ $(grep -c "^[A-Z_]*=" <<<"$out") -ge 39 ]'

out=$(env -i RUNTIME_AGENT_TOKEN=x RUNTIME_AGENT_PORT=abc RUNTIME_TRAEFIK_ENABLE=maybe "$agent" --check-config 2>&1); rc=$?
check "--check-config of bad settings exits 1 naming each key" '[ $rc -eq 1 ] && grep -q "invalid: RUNTIME_AGENT_PORT" <<<"$out" && grep -q "invalid: RUNTIME_TRAEFIK_ENABLE" <<<"$out"'

printf '# comment\nRUNTIME_AGENT_TOKEN="from the file"\nRUNTIME_AGENT_PORT=7777\nRUNTIME_NODE_NAME=file-node\n' >"$tmp/runtime.env"
out=$(env -i RUNTIME_AGENT_PORT=7778 "$agent" --config "$tmp/runtime.env" --check-config 2>&1); rc=$?
check "--config reads the file and the environment wins" '[ $rc -eq 0 ] && grep -qx "RUNTIME_AGENT_PORT=7778" <<<"$out" && grep -qx "RUNTIME_NODE_NAME=file-node" <<<"$out"'
out=$("$agent" --config "$tmp/missing.env" 2>&1); rc=$?
check "a missing --config file stops the start" '[ $rc -ne 0 ] && grep -q "missing.env" <<<"$out"'

for token in "" CHANGE_ME; do
  out=$(env -i RUNTIME_AGENT_TOKEN="$token" FUNAI_LOG_DIR="$tmp/logs" timeout 5 "$agent" 2>&1); rc=$?
  check "token '$token' stops the start naming RUNTIME_AGENT_TOKEN" '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q RUNTIME_AGENT_TOKEN <<<"$out"'
done
for port in 0 70000 abc; do
  out=$(env -i RUNTIME_AGENT_TOKEN=t RUNTIME_AGENT_PORT=$port FUNAI_LOG_DIR="$tmp/logs" timeout 5 "$agent" 2>&1); rc=$?
  check "RUNTIME_AGENT_PORT=$port stops the start naming the key" '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q RUNTIME_AGENT_PORT <<<"$out"'
done

# SIGTERM: exits 0.
port=$(free_port)
env -i RUNTIME_AGENT_TOKEN=t RUNTIME_AGENT_HOST=127.0.0.1 RUNTIME_AGENT_PORT=$port RUNTIME_PODMAN_SOCKET=unix://$tmp/none.sock \
  RUNTIME_TRAEFIK_DYNAMIC_DIR="$tmp/dynamic" FUNAI_LOG_DIR="$tmp/logs" "$agent" >"$tmp/agent.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/internal/health" >/dev/null 2>&1 && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM stops the agent with exit code 0" '[ $rc -eq 0 ] && grep -q "stopped" "$tmp/agent.out"' ||
  { echo "the agent printed:"; cat "$tmp/agent.out"; }
check "the log file was written" '[ -s "$tmp/logs/app.log" ]'

# The heartbeat warning names exactly the keys that are missing.
port=$(free_port)
env -i RUNTIME_AGENT_TOKEN=t RUNTIME_AGENT_HOST=127.0.0.1 RUNTIME_AGENT_PORT=$port RUNTIME_PODMAN_SOCKET=unix://$tmp/none.sock \
  RUNTIME_TRAEFIK_DYNAMIC_DIR="$tmp/dynamic" FUNAI_LOG_DIR="$tmp/logs2" RUNTIME_NODE_AGENT_BASE_URL=http://127.0.0.1:$port \
  RUNTIME_NODE_GATEWAY_BASE_URL=http://127.0.0.1:8080 DEPLOY_NODE_TOKEN=n "$agent" >"$tmp/agent2.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "heartbeat disabled" "$tmp/agent2.out" 2>/dev/null && break; sleep 0.05; done
kill -TERM $pid; wait $pid
line=$(grep "heartbeat disabled" "$tmp/agent2.out")
check "the heartbeat warning names only the missing key: $line" 'grep -q "heartbeat disabled: DEPLOY_BASE_URL is not set" <<<"$line"' ||
  { echo "the agent printed:"; cat "$tmp/agent2.out"; }

echo "cli: $passed passed, $failed failed"
[ $failed -eq 0 ]
