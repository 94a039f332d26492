#!/usr/bin/env bash
# `make run`: runs the agent in the foreground with etc/dev/dev.env. When no Podman API answers
# at RUNTIME_PODMAN_SOCKET (default unix:///run/podman/podman.sock), starts a private
# `podman system service` under run/podman first. Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/run"
agent="$root/build/agent/fun-ai-runtime-agent"
mkdir -p "$run/traefik/dynamic" "$run/logs"
sed "s|@RUN@|$run|g" "$root/etc/dev/dev.env" > "$run/dev.env"

socket=${RUNTIME_PODMAN_SOCKET:-unix:///run/podman/podman.sock}
service_pid=
ping() { curl -sf --max-time 2 --unix-socket "${1#unix://}" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; }
if [[ $socket == unix://* ]] && ping "$socket"; then
  echo "Using the Podman API at $socket"
else
  mkdir -p "$run/podman/tmp"
  cp "$root/etc/containers.conf" "$run/podman/containers.conf"
  printf '\n[network]\nnetwork_config_dir = "%s/podman/networks"\n' "$run" >> "$run/podman/containers.conf"
  socket="unix://$run/podman/podman.sock"
  echo "No Podman API answers; starting one at $socket (storage under run/podman)"
  CONTAINERS_CONF="$run/podman/containers.conf" podman --root "$run/podman/root" --runroot "$run/podman/run" \
    --tmpdir "$run/podman/tmp" system service --time=0 "$socket" >"$run/podman/service.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 100); do ping "$socket" && break; sleep 0.1; done
  ping "$socket" || { echo "podman system service did not start, see $run/podman/service.log"; exit 1; }
fi

cleanup() {
  if [[ -n $service_pid ]]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

token=$(grep '^RUNTIME_AGENT_TOKEN=' "$run/dev.env" | cut -d= -f2-)
cat <<INFO
----------------------------------------------------------------------------
 Runtime-Agent on http://127.0.0.1:7005  (Ctrl-C stops it)
 development token: $token
 try: curl -s -H 'X-Runtime-Token: $token' 'http://127.0.0.1:7005/agent/apps'
 routing files: $run/traefik/dynamic   logs: $run/logs
----------------------------------------------------------------------------
INFO
RUNTIME_PODMAN_SOCKET=$socket "$agent" --config "$run/dev.env" &
agent_pid=$!
trap 'kill -TERM $agent_pid 2>/dev/null || true' INT TERM
wait $agent_pid || true
wait $agent_pid 2>/dev/null || true
