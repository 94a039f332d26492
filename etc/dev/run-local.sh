#!/usr/bin/env bash
# `make run`: runs the agent in the foreground with etc/dev/dev.env, ready to deploy a demo app.
#
# Podman: RUNTIME_PODMAN_SOCKET when it is set and answers; else the node's API at
# unix:///run/podman/podman.sock when it answers; else a private `podman system service` of its
# own, with storage and networks under run/podman. The demo image (busybox httpd, built with no
# registry) is imported into whichever is used.
#
# Ctrl-C (SIGINT) or SIGTERM stops the agent, removes the containers deployed during this run, and,
# when the service is this script's own, removes its networks, stops it and unmounts its storage,
# so no process, mount or network interface is left and the next run starts clean.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/run"
agent="${FUNAI_AGENT_BINARY:-$root/build/agent/fun-ai-runtime-agent}"
demo_image=localhost/funai-demo:1
mkdir -p "$run/traefik/dynamic" "$run/logs"
sed "s|@RUN@|$run|g" "$root/etc/dev/dev.env" > "$run/dev.env"
setting() { # KEY: the environment's value, else dev.env's
  local v=${!1:-}
  [ -n "$v" ] && { echo "$v"; return; }
  sed -n "s/^$1=//p" "$run/dev.env" | tail -n 1
}
port=$(setting RUNTIME_AGENT_PORT)
token=$(setting RUNTIME_AGENT_TOKEN)
network=$(setting RUNTIME_DOCKER_NETWORK)
routes=$(setting RUNTIME_TRAEFIK_DYNAMIC_DIR)

ping() { curl -sf --max-time 2 --unix-socket "${1#unix://}" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; }
managed_ids() { # the ids of every container the agent manages on $socket
  curl -sf --max-time 10 --unix-socket "${socket#unix://}" -G http://d/v4.0.0/libpod/containers/json \
    --data-urlencode all=true --data-urlencode 'filters={"label":["io.funai.managed=true"]}' |
    grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4 | sort || true
}

own="$run/podman"   # the private service's folder
podman_own() {
  CONTAINERS_CONF="$own/containers.conf" podman --root "$own/root" --runroot "$own/run" --tmpdir "$own/tmp" "$@"
}
unmount_own() { # containers/storage leaves its overlay folder mounted after the service exits
  grep -o " $own/[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
stop_own_service() {
  local pid
  pid=$(cat "$own/service.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    podman_own rm -af -t 0 >/dev/null 2>&1 || true
    podman_own network rm -f "$network" >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$own/service.pid" "$own/podman.sock"
  unmount_own
  "$root/etc/dev/private-network.sh" release "$own/containers.conf"
}

# A run that was killed outright (SIGKILL, a closed terminal) left its service and apps: go first.
stop_own_service

socket=${RUNTIME_PODMAN_SOCKET:-unix:///run/podman/podman.sock}
service_pid=
if [[ $socket == unix://* ]] && ping "$socket"; then
  echo "Using the Podman API at $socket"
else
  [ -z "${RUNTIME_PODMAN_SOCKET:-}" ] || echo "RUNTIME_PODMAN_SOCKET=$RUNTIME_PODMAN_SOCKET does not answer"
  mkdir -p "$own/tmp"
  cp "$root/etc/containers.conf" "$own/containers.conf"
  # Networks of its own (definitions under run/podman, a subnet and a bridge no test run shares).
  bridge=$("$root/etc/dev/private-network.sh" claim "$own/containers.conf" "$own/networks")
  socket="unix://$own/podman.sock"
  echo "Starting a Podman API service of its own at $socket (storage under run/podman)"
  # A session of its own: a Ctrl-C in the terminal reaches this script, which then removes the
  # apps through the service before stopping it.
  CONTAINERS_CONF="$own/containers.conf" setsid podman --root "$own/root" --runroot "$own/run" \
    --tmpdir "$own/tmp" system service --time=0 "$socket" >"$own/service.log" 2>&1 </dev/null &
  service_pid=$!
  echo "$service_pid" > "$own/service.pid"
  for _ in $(seq 1 100); do ping "$socket" && break; sleep 0.1; done
  ping "$socket" || { echo "podman system service did not start, see $own/service.log"; stop_own_service; exit 1; }
  # Made again: one left by a run that died (or by an older script) has another subnet and bridge.
  podman_own network rm -f "$network" >/dev/null 2>&1 || true
  "$root/etc/dev/private-network.sh" create "$own/podman.sock" "$network" "$bridge" || { stop_own_service; exit 1; }
fi
before=$(managed_ids)

agent_pid=
cleanup() {
  trap - INT TERM
  if [[ -n $agent_pid ]]; then kill -TERM "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  echo "Removing the apps deployed during this run"
  local id
  for id in $(comm -13 <(echo "$before") <(managed_ids)); do
    curl -sf --max-time 30 --unix-socket "${socket#unix://}" -X DELETE \
      "http://d/v4.0.0/libpod/containers/$id?force=true&t=0" >/dev/null 2>&1 || true
  done
  rm -f "$routes"/funai-app-*.yml
  if [[ -n $service_pid ]]; then
    echo "Stopping the Podman API service of this run"
    stop_own_service
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ! -x $agent ]]; then echo "$agent is missing: run make run (it builds it)"; exit 1; fi
echo "Building the demo image $demo_image"
"$root/etc/dev/busybox-image.sh" "$demo_image" '["/bin/httpd","-f","-p","8080","-h","/www"]' \
  "hello from the fun-ai-studio-runtime demo app" -- podman --url "$socket"

route_file="$routes/funai-app-demo.yml"
cat <<INFO
----------------------------------------------------------------------------------------------
 Runtime-Agent on http://127.0.0.1:$port  (Ctrl-C stops it and removes what this run deployed)
 development token: $token
 Podman: $socket   routing files: $routes   logs: $run/logs

 Deploy the demo app:
   curl -s -H 'X-Runtime-Token: $token' -H 'Content-Type: application/json' -d '{"userId":"1","appId":"demo","image":"$demo_image","containerPort":8080}' http://127.0.0.1:$port/agent/apps/deploy

 Request it (its routing file names the container's address on the apps' network):
   curl -s "\$(grep -o 'http://[0-9.]*:[0-9]*' $route_file)/"

 List the apps:
   curl -s -H 'X-Runtime-Token: $token' http://127.0.0.1:$port/agent/apps

 No gateway runs in development: the previewUrl in the deploy answer needs a Traefik that watches
 $routes.
----------------------------------------------------------------------------------------------
INFO
RUNTIME_PODMAN_SOCKET=$socket "$agent" --config "$run/dev.env" &
agent_pid=$!
wait "$agent_pid" || true
agent_pid=
