#!/bin/sh
# Gives the user "containers" a range of subordinate user and group ids (/etc/subuid, /etc/subgid),
# from which Podman's userns=auto hands each app container a range of its own. Leaves the files
# alone when the user has a range already.
#   subid-range.sh [ROOT]   (ROOT: a chroot's top, default /)
set -eu
root=${1:-/}
for f in "$root/etc/subuid" "$root/etc/subgid"; do
  [ -f "$f" ] || : > "$f"
  grep -q '^containers:' "$f" || echo 'containers:2147483647:2147483648' >> "$f"
done
