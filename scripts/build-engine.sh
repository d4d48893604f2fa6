#!/usr/bin/env bash
# Builds the bundled engine, FerretDB, from its Go module at the version engine/go.mod pins.
# FerretDB panics at start when build/version/version.txt is empty (it is generated, not in the
# module), so we build from a copy of the module source with that file written, as FerretDB's
# own Dockerfile does. Cached: a second run with the same version does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(awk '/github.com\/FerretDB\/FerretDB /{print $2}' engine/go.mod)
OUT=bin/ferretdb
# Output captured first: `--version | grep -q` under pipefail fails by SIGPIPE when grep exits early.
if [ -x "$OUT" ] && grep -qx "version: $VERSION" <<<"$("$OUT" --version 2>/dev/null || true)"; then
  echo "engine: $OUT is FerretDB $VERSION (cached)"
  exit 0
fi
command -v go >/dev/null || { echo "engine: Go is required (https://go.dev/dl/)" >&2; exit 1; }
echo "engine: building FerretDB $VERSION (takes about two minutes the first time)"
# go.sum in engine/ pins the module's hash; download verifies it.
DIR=$(cd engine && go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$DIR" ] || { echo "engine: could not download the FerretDB module" >&2; exit 1; }
SRC=$(mktemp -d)
trap 'chmod -R u+w "$SRC"; rm -rf "$SRC"' EXIT
cp -r "$DIR/." "$SRC/"
chmod -R u+w "$SRC"
echo "$VERSION" > "$SRC/build/version/version.txt"
echo "$VERSION" > "$SRC/build/version/branch.txt"
mkdir -p bin
(cd "$SRC" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$OLDPWD/$OUT.tmp" ./cmd/ferretdb)
mv "$OUT.tmp" "$OUT"
INFO=$("$OUT" --version)
echo "${INFO%%$'\n'*}"
