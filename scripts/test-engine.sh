#!/usr/bin/env bash
# Runs FerretDB's own Go tests of every package our patches touch, and the tests the patches add,
# in the patched source tree that scripts/build-engine.sh keeps in .engine-src/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-engine.sh >/dev/null
SRC=.engine-src
shopt -s nullglob
# FerretDB's testutil finds the module root by its .git: the copy needs one of its own.
[ -d "$SRC/.git" ] || git -C "$SRC" init -q
PACKAGES=$(cat /dev/null engine/patches/*.patch | sed -n 's#^+++ b/\(.*\)/[^/]*$#./\1#p' | sort -u)
# internal/backends' own tests run every backend against servers (PostgreSQL on 127.0.0.1:5432)
# that nothing here starts; the SQLite backend's packages test what our patches change there.
PACKAGES=$(grep -vx './internal/backends' <<<"$PACKAGES" || true)
if [ -z "$PACKAGES" ]; then
  echo "engine: no patches, no engine tests"
  exit 0
fi
echo "engine: go test $(echo $PACKAGES)"
(cd "$SRC" && CGO_ENABLED=0 go test -count=1 $PACKAGES)
