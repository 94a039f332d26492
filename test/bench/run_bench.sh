#!/usr/bin/env bash
# make bench: a private Podman service and the agent binary, then the bench program; removes
# everything it started. BENCH_N (default 10) runs per figure, BENCH_APPS (100) for memory.
# BENCH_PARTS (default "main image connections sleep") picks the tables to measure; BENCH_WAKES (100)
# and BENCH_DENSITY_APPS (200) size the scale-to-zero table.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
state="$build/bench-podman.dir"
work=$(mktemp -d /tmp/funai-bench.XXXXXX)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  "$root/test/podman_fixture.sh" cleanup "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/test/podman_fixture.sh" setup "$state" "$root/etc/containers.conf" >/dev/null
dir=$(cat "$state")
ulimit -n "$(ulimit -Hn)"  # 1000-connection figures: wrk, the bench and the agent hold that many
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo "$1"; }
token=bench-token-$$
# start_agent PORT NAME [VAR=VALUE...]: the agent binary in the background; sets agent_pid.
start_agent() {
  local port=$1 name=$2; shift 2
  mkdir -p "$work/$name/dynamic" "$work/$name/logs"
  env RUNTIME_AGENT_TOKEN=$token RUNTIME_AGENT_HOST=127.0.0.1 RUNTIME_AGENT_PORT=$port \
    RUNTIME_PODMAN_SOCKET="unix://$dir/podman.sock" RUNTIME_DOCKER_NETWORK=funai-bench-net \
    RUNTIME_TRAEFIK_DYNAMIC_DIR="$work/$name/dynamic" FUNAI_LOG_DIR="$work/$name/logs" RUNTIME_PULL_POLICY=missing \
    "$@" "$build/agent/fun-ai-runtime-agent" >"$work/$name/agent.out" 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/internal/health" >/dev/null 2>&1 && break; sleep 0.05; done
  for _ in $(seq 1 200); do grep -q "reconciled\|listening on" "$work/$name/agent.out" && break; sleep 0.05; done
  # Idle, as after start: it has answered, and its threads have run their first rounds.
  curl -sf -H "X-Runtime-Token: $token" "http://127.0.0.1:$port/agent/apps/status?appId=idle" >/dev/null 2>&1 || true
  sleep 2
}

parts=" ${BENCH_PARTS:-main image connections sleep} "
echo "== fun-ai-studio-runtime bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), $(podman --version)"
if [[ $parts == *" main "* ]]; then
port=$(free_port 17005)
start_agent "$port" agent
"$build/test/funai_bench" --agent "http://127.0.0.1:$port" --token "$token" --socket "unix://$dir/podman.sock" \
  --fixture-dir "$dir" --network funai-bench-net --routing-dir "$work/agent/dynamic" --agent-pid "$agent_pid" --podman-pid "$(cat "$dir/service.pid")" \
  --n "${BENCH_N:-10}" --apps "${BENCH_APPS:-100}" --load-seconds "${BENCH_LOAD_SECONDS:-3}"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
agent_pid=
fi
# The image path: a registry (Debian's docker-registry, plain HTTP, no auth) holding a ~50 MB app
# image built and pushed from a storage of its own. One agent at a time on this Podman (two would
# each reconcile the other's apps): one that pulls (policy always), then one that does not.
if [[ $parts == *" image "* ]]; then
echo
echo "The image path (one agent at a time on the Podman service: one that pulls, then one that does not):"
registry_port=$(free_port 17050)
registry="127.0.0.1:$registry_port"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n' \
  "$work/registry" "$registry" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill "$registry_pid" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do curl -sf "http://$registry/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
mkdir -p "$work/builder/tmp"  # its own: podman system reset empties the tmpdir it is given
builder="podman --storage-driver vfs --root $work/builder/root --runroot $work/builder/run --tmpdir $work/builder/tmp"
IMAGE_PAD_MB=50 "$root/etc/dev/busybox-image.sh" localhost/bench-big:1 '["/bin/httpd","-f","-p","8080","-h","/www"]' "big" -- \
  env CONTAINERS_CONF="$dir/containers.conf" $builder
CONTAINERS_CONF="$dir/containers.conf" $builder push -q --tls-verify=false localhost/bench-big:1 "docker://$registry/bench/u7-appbig:latest"
CONTAINERS_CONF="$dir/containers.conf" $builder system reset -f >/dev/null 2>&1 || true
for phase in pull plain; do
  phase_port=$(free_port 17006)
  if [ $phase = pull ]; then start_agent "$phase_port" pulling RUNTIME_PULL_POLICY=always REGISTRY_URL="http://$registry"
  else start_agent "$phase_port" plain; fi
  "$build/test/funai_bench" --agent "http://127.0.0.1:$phase_port" --token "$token" --socket "unix://$dir/podman.sock" \
    --fixture-dir "$dir" --network funai-bench-net --n "${BENCH_N:-10}" --registry-phase $phase \
    --registry-image "$registry/bench/u7-appbig:latest" --samples "$work/pull-samples"
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
done
agent_pid=
fi
# Connections: one more agent of its own, wrk and raw sockets against it.
if [[ $parts == *" connections "* ]]; then
echo
echo "Connections (the same agent without the load is the baseline):"
phase_port=$(free_port 17007)
start_agent "$phase_port" connections
"$build/test/funai_bench" --agent "http://127.0.0.1:$phase_port" --token "$token" --socket "unix://$dir/podman.sock" \
  --fixture-dir "$dir" --network funai-bench-net --agent-pid "$agent_pid" --n "${BENCH_N:-10}" \
  --load-seconds "${BENCH_LOAD_SECONDS:-3}" --connections-phase yes
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
agent_pid=
fi
# Scale to zero: an agent whose apps sleep on request (the API), its waker on the loopback.
if [[ $parts == *" sleep "* ]]; then
echo
echo "Scale to zero (requests follow the routing file as Traefik would, without its 2 s throttle):"
phase_port=$(free_port 17008)
start_agent "$phase_port" sleep RUNTIME_IDLE_SLEEP_SECONDS=86400 RUNTIME_WAKE_LISTEN="127.0.0.1:$(free_port 17009)" \
  RUNTIME_RETIRE_GRACE_SECONDS=1 RUNTIME_AGENT_THREADS=64
"$build/test/funai_bench" --agent "http://127.0.0.1:$phase_port" --token "$token" --socket "unix://$dir/podman.sock" \
  --fixture-dir "$dir" --network funai-bench-net --routing-dir "$work/sleep/dynamic" --n "${BENCH_N:-10}" \
  --sleep-phase yes --wakes "${BENCH_WAKES:-100}" --density-apps "${BENCH_DENSITY_APPS:-200}"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
agent_pid=
fi
