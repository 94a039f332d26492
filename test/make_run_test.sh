#!/usr/bin/env bash
# A newcomer's `make run`, in a clean copy of the working tree: it builds the agent, starts a Podman
# API of its own, prints a deploy line and a request line that work as printed, and Ctrl-C (SIGINT
# to its process group, as a terminal sends it) or SIGTERM to make leaves no process, mount,
# network interface or container behind; the second run starts clean.
#   make_run_test.sh SOURCE_DIR
set -uo pipefail
src=$1
passed=0 failed=0
check() { # description, condition
  if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1"; fi
}
tmp=$(mktemp -d /tmp/funai-make-run.XXXXXX)
clone="$tmp/clone"
make_pid= conmon= app_pid= run_links=
finish() {
  [ -n "$make_pid" ] && kill -TERM "$make_pid" 2>/dev/null && sleep 5
  grep -o " $tmp/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  pkill -KILL -f "$tmp/" 2>/dev/null
  rm -rf "$tmp"
}
trap finish EXIT

# The tracked and new (not ignored) files, as a clone of the working tree would have them.
mkdir -p "$clone"
(cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' | tar -cf - -T -) |
  tar -C "$clone" -xf -
. "$(dirname "$0")/free_port.sh"
port=$(free_port)

start_make_run() { # log file; sets make_pid (the leader of a process group of its own)
  RUNTIME_AGENT_PORT=$port setsid make -C "$clone" run >"$1" 2>&1 </dev/null &
  make_pid=$!
  for _ in $(seq 1 900); do
    grep -q "^ Deploy the demo app:" "$1" && curl -sf "http://127.0.0.1:$port/internal/health" >/dev/null 2>&1 && return 0
    kill -0 "$make_pid" 2>/dev/null || break
    sleep 1
  done
  echo "make run did not become ready:"; tail -n 30 "$1"
  return 1
}
note_what_the_app_holds() { # the demo app's conmon and process, its network's bridge and veths
  conmon=$(pgrep -f "conmon.*$clone/" | head -n 1)
  bridge=$(curl -s --unix-socket "$clone/run/podman/podman.sock" http://d/v4.0.0/libpod/networks/funai-dev-net/json |
    grep -o '"network_interface":"[^"]*"' | cut -d'"' -f4)
  run_links="$bridge $(ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1)"
  app_pid=$(curl -s --unix-socket "$clone/run/podman/podman.sock" http://d/v4.0.0/libpod/containers/rt-u-1-demo/json |
    grep -o '"Pid":[0-9]*' | head -n 1 | cut -d: -f2)
}
alive() { # pid: a process that runs (a zombie whose parent has not reaped it yet has ended)
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat" 2>/dev/null
}
printed_line() { # log file, heading: the command under it
  grep -A1 "^ $2" "$1" | tail -n 1 | sed 's/^ *//'
}
stop_and_check_nothing_left() { # signal, how it is sent (group|make), log file
  if [ "$2" = group ]; then kill -"$1" -- "-$make_pid"; else kill -"$1" "$make_pid"; fi
  local t=0
  while kill -0 "$make_pid" 2>/dev/null && [ $t -lt 60 ]; do sleep 1; t=$((t + 1)); done
  check "SIG$1 ($2) ends make run within 60 s" '! kill -0 $make_pid 2>/dev/null'
  make_pid=
  local procs mounts links
  procs=$(pgrep -af "$clone/" | grep -v make_run_test || true)
  check "no process of the run is left after SIG$1 ($2): ${procs:-none}" '[ -z "$procs" ]'
  check "the app's conmon and process are gone after SIG$1 ($2)" \
    '! alive "$conmon" && ! alive "$app_pid"' || ps -o pid,stat,cmd -p "${conmon:-1},${app_pid:-1}"
  mounts=$(grep -c " $clone/" /proc/mounts)
  check "no mount under the clone is left after SIG$1 ($2) ($mounts)" '[ "$mounts" = 0 ]'
  links=$(for l in $run_links; do ip link show "$l" >/dev/null 2>&1 && echo "$l"; done)
  check "the run's bridge and veth interfaces ($run_links) are gone after SIG$1 ($2): ${links:-none} left" \
    '[ -n "$bridge" ] && [ -z "$links" ]'
  log=$3
  check "the run said it removed its apps" 'grep -q "Removing the apps deployed during this run" "$log"'
  check "no routing file is left" '[ -z "$(ls "$clone/run/traefik/dynamic")" ]'
}

# First run: deploy and request the demo app with the printed lines, then Ctrl-C.
if start_make_run "$tmp/run1.log"; then
  check "make run built the agent" '[ -x "$clone/build/agent/fun-ai-runtime-agent" ]'
  check "make run built only the agent (no test suite)" '[ ! -e "$clone/build/test/deploy_test" ]'
  check "make run started a Podman API of its own" 'grep -q "Podman API service of its own" "$tmp/run1.log"'
  check "the banner says previewUrl needs Traefik" 'grep -q "previewUrl.*needs a Traefik" "$tmp/run1.log"'
  deploy=$(printed_line "$tmp/run1.log" "Deploy the demo app:")
  answer=$(bash -c "$deploy")
  check "the printed deploy line deploys the demo app: $answer" 'grep -q "\"status\":\"DEPLOYED\"" <<<"$answer"'
  page=$(bash -c "$(printed_line "$tmp/run1.log" "Request it")")
  check "the printed request line reaches the app: $page" '[ "$page" = "hello from the fun-ai-studio-runtime demo app" ]'
  note_what_the_app_holds
  check "the app runs (conmon ${conmon:-none}, app process ${app_pid:-none})" '[ -n "$conmon" ] && [ "${app_pid:-0}" -gt 0 ]'
  stop_and_check_nothing_left INT group "$tmp/run1.log"
else
  check "the first make run became ready" false
fi

# Second run: starts clean (no app from the first), then SIGTERM to make alone.
if start_make_run "$tmp/run2.log"; then
  apps=$(curl -s -H "X-Runtime-Token: dev-token-not-for-production" "http://127.0.0.1:$port/agent/apps")
  check "the second run starts with no app: $apps" 'grep -q "\"count\":0" <<<"$apps"'
  answer=$(bash -c "$(printed_line "$tmp/run2.log" "Deploy the demo app:")")
  check "the second run deploys again: $answer" 'grep -q "\"status\":\"DEPLOYED\"" <<<"$answer"'
  note_what_the_app_holds
  stop_and_check_nothing_left TERM make "$tmp/run2.log"
else
  check "the second make run became ready" false
fi

echo "make run: $passed passed, $failed failed"
[ $failed -eq 0 ]
