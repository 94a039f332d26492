#!/usr/bin/env bash
# Installs FerretDB 1.24 (a MongoDB-protocol server; SQLite backend, pure Go) as
# /usr/local/bin/ferretdb for the tests' MongoDB fixture, once, built from its module on the Go
# module proxy. Not with a plain `go install ...@v1.24.2`: that binary panics at start, because
# the module lacks build/version/version.txt (made by FerretDB's own build); the source is copied
# out of the module cache, the file written with the version, and the command built there. FerretDB 1.24 needs Go 1.24: a Go of 1.21 or newer fetches that toolchain
# itself (GOTOOLCHAIN); an older one (Debian 12's golang-go is 1.19) or none (installed from the
# distribution first) first downloads the Go 1.24 toolchain as the module golang.org/toolchain,
# also from the module proxy, and builds with it.
#   install_ferretdb.sh [BINDIR]      (default /usr/local/bin; needs write access to it)
set -euo pipefail
version=v1.24.2
toolchain=go1.24.3  # the toolchain FerretDB v1.24.2 names: one download, not two
bindir=${1:-/usr/local/bin}

if [ -x "$bindir/ferretdb" ] && "$bindir/ferretdb" --version 2>/dev/null | grep "${version#v}" >/dev/null; then exit 0; fi
# (grep -q would stop reading early: ferretdb then dies of SIGPIPE and pipefail fails the check)

if ! command -v go >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go ca-certificates git >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    dnf install -y golang git >/dev/null
  else
    echo "$0: no Go and no package manager: install Go 1.21 or newer" >&2; exit 1
  fi
fi

go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
go_bin=go
export GOFLAGS=-mod=mod
if [ -z "$go_minor" ] || [ "$go_minor" -lt 21 ]; then
  # The toolchain module holds a whole Go distribution; any module-aware Go can download it.
  echo "install_ferretdb: Go $(go env GOVERSION) is too old to build FerretDB; fetching $toolchain from the module proxy"
  dir=$(cd /tmp && GO111MODULE=on go mod download -json "golang.org/toolchain@v0.0.1-$toolchain.$(go env GOOS)-$(go env GOARCH)" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -f "$dir/bin/go" ] || { echo "$0: could not fetch $toolchain" >&2; exit 1; }
  # A module zip keeps no file modes: set the execute bits, as Go 1.21+ does after its own download.
  chmod -R +x "$dir/bin" "$dir/pkg/tool"
  go_bin="$dir/bin/go"
  export GOROOT="$dir"
fi
echo "install_ferretdb: building FerretDB $version (once; about two minutes)"
export GOTOOLCHAIN=auto
module_dir=$(cd /tmp && "$go_bin" mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -d "$module_dir" ] || { echo "$0: could not download FerretDB $version" >&2; exit 1; }
src=$(mktemp -d /tmp/funai-ferretdb-src.XXXXXX)
trap 'rm -rf "$src"' EXIT
cp -r "$module_dir/." "$src/"
chmod -R u+w "$src"
echo "$version" > "$src/build/version/version.txt"
(cd "$src" && CGO_ENABLED=0 "$go_bin" build -o "$bindir/ferretdb.new" ./cmd/ferretdb)
mv "$bindir/ferretdb.new" "$bindir/ferretdb"
"$bindir/ferretdb" --version | sed -n 1,3p
