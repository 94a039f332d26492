#!/usr/bin/env bash
# Builds the RPM with `make rpm` and checks what it holds: the paths, the config file's mode and
# flags, the extracted binary's --version, and that systemd-analyze accepts both units.
#   rpm_package_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$work" && mkdir -p "$work"
make -C "$src" --no-print-directory rpm BUILD="$work/build" >"$work/rpmbuild.log" 2>&1 \
  || { tail -40 "$work/rpmbuild.log"; fail "make rpm failed"; }
rpm_file=$(ls "$work"/build/rpm/RPMS/*/fun-ai-studio-runtime-*.rpm)
ls "$work"/build/rpm/SRPMS/fun-ai-studio-runtime-*.src.rpm >/dev/null || fail "no source RPM"
echo "built $(basename "$rpm_file")"

listing=$(rpm -qlp "$rpm_file")
for path in /usr/bin/fun-ai-runtime-agent /etc/fun-ai-studio/runtime.env /etc/fun-ai-studio/traefik/traefik.yml \
            /etc/fun-ai-studio/traefik/dynamic /usr/lib/systemd/system/fun-ai-studio-runtime.service \
            /usr/lib/systemd/system/fun-ai-studio-traefik.service \
            /usr/share/fun-ai-studio-runtime/prometheus/fun-ai-studio-runtime-alerts.yml \
            /usr/share/fun-ai-studio-runtime/grafana/fun-ai-studio-runtime.json; do
  grep -qx "$path" <<<"$listing" || fail "rpm -qlp does not list $path"
done
echo "rpm -qlp lists every expected path"

env_line=$(rpm -qp --qf '[%{FILENAMES} %{FILEMODES:perms} %{FILEFLAGS:fflags}\n]' "$rpm_file" | grep '^/etc/fun-ai-studio/runtime.env ')
[[ $env_line == "/etc/fun-ai-studio/runtime.env -rw------- cn" ]] || fail "runtime.env is not 0600 %config(noreplace): $env_line"
rpm -qpR "$rpm_file" | grep -qx podman || fail "Requires does not name podman"
for s in preinstall postinstall preuninstall postuninstall; do :; done
scripts=$(rpm -qp --scripts "$rpm_file")
for phase in postinstall preuninstall postuninstall; do
  grep -q "^$phase scriptlet" <<<"$scripts" || fail "no $phase scriptlet"
done
echo "runtime.env is 0600 %config(noreplace); Requires podman; scriptlets for install, upgrade and removal"

root="$work/root"
mkdir -p "$root"
(cd "$root" && rpm2cpio "$rpm_file" | cpio -idm --quiet)
version=$("$root/usr/bin/fun-ai-runtime-agent" --version)
[[ $version == "fun-ai-runtime-agent "* ]] || fail "--version printed: $version"
echo "extracted binary: $version"

# systemd-analyze checks that ExecStart exists: point it at the extracted binary.
units="$work/units"
mkdir -p "$units"
sed "s|/usr/bin/fun-ai-runtime-agent|$root/usr/bin/fun-ai-runtime-agent|" \
  "$root/usr/lib/systemd/system/fun-ai-studio-runtime.service" >"$units/fun-ai-studio-runtime.service"
cp "$root/usr/lib/systemd/system/fun-ai-studio-traefik.service" "$units/"
out=$(systemd-analyze verify "$units/fun-ai-studio-runtime.service" "$units/fun-ai-studio-traefik.service" 2>&1) \
  || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "systemd-analyze verify accepts both units"
rm -rf "$work"
echo "rpm package: 5 passed, 0 failed"
