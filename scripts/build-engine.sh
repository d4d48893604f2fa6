#!/usr/bin/env bash
# Builds the bundled engine, FerretDB, from its Go module at the version engine/go.mod pins, with
# our own patch series (engine/patches/NNNN-*.patch, applied in order) on top.
#
# The patched source tree is kept in .engine-src/ (the Go tests of the patched packages run there:
# scripts/test-engine.sh). FerretDB panics at start when build/version/version.txt is empty (it is
# generated, not in the module), so we write it, as FerretDB's own Dockerfile does; package.txt
# names the patch level, which `ferretdb --version` prints. Cached: a second run with the same
# version and the same patches does nothing.
#
# `--unpatched` builds FerretDB as released into bin/ferretdb-unpatched instead (benchmarks run
# it side by side with ours: bench/bench_engine.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(awk '/github.com\/FerretDB\/FerretDB /{print $2}' engine/go.mod)
OUT=bin/ferretdb
SRC=.engine-src
shopt -s nullglob
PATCHES=(engine/patches/*.patch)
if [ "${1:-}" = "--unpatched" ]; then
  OUT=bin/ferretdb-unpatched
  SRC=.engine-src-unpatched
  PATCHES=()
fi
LEVEL="dds-patches-${#PATCHES[@]}-$(cat /dev/null "${PATCHES[@]}" | sha256sum | cut -c1-12)"

# Output captured first: `--version | grep -q` under pipefail fails by SIGPIPE when grep exits early.
built() { "$OUT" --version 2>/dev/null || true; }
if [ -x "$OUT" ] && grep -qx "version: $VERSION" <<<"$(built)" && grep -qx "package: $LEVEL" <<<"$(built)" \
  && [ "$(cat "$SRC/.level" 2>/dev/null)" = "$VERSION $LEVEL" ]; then
  echo "engine: $OUT is FerretDB $VERSION with $LEVEL (cached)"
  exit 0
fi
command -v go >/dev/null || { echo "engine: Go is required (https://go.dev/dl/)" >&2; exit 1; }
echo "engine: building FerretDB $VERSION with $LEVEL (takes about two minutes the first time)"
# go.sum in engine/ pins the module's hash; download verifies it.
DIR=$(cd engine && go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$DIR" ] || { echo "engine: could not download the FerretDB module" >&2; exit 1; }
if [ -d "$SRC" ]; then chmod -R u+w "$SRC"; rm -rf "$SRC"; fi
mkdir -p "$SRC"
cp -r "$DIR/." "$SRC/"
chmod -R u+w "$SRC"
command -v patch >/dev/null || { apt-get update -qq && apt-get install -y -qq patch; }
for patch in "${PATCHES[@]}"; do
  if ! out=$(patch -p1 -d "$SRC" --forward --batch --dry-run <"$patch" 2>&1); then
    echo "engine: $patch no longer applies to FerretDB $VERSION:" >&2
    echo "$out" >&2
    echo "engine: refresh it against the module source (docs/architecture.md, 'The engine')" >&2
    exit 1
  fi
  patch -p1 -d "$SRC" --forward --batch --quiet <"$patch"
  echo "engine: applied $(basename "$patch")"
done
echo "$VERSION" > "$SRC/build/version/version.txt"
echo "$VERSION" > "$SRC/build/version/branch.txt"
echo "$LEVEL" > "$SRC/build/version/package.txt"
mkdir -p bin
(cd "$SRC" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$OLDPWD/$OUT.tmp" ./cmd/ferretdb)
mv "$OUT.tmp" "$OUT"
echo "$VERSION $LEVEL" > "$SRC/.level"
INFO=$("$OUT" --version)
echo "${INFO%%$'\n'*} ($LEVEL)"
