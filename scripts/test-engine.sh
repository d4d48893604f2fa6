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
# FerretDB's tests of internal/backends and of the PostgreSQL backend need a PostgreSQL server on
# 127.0.0.1:5432 (user `username`, database `ferretdb`, trust): one is started for them in a
# temporary directory (Debian's PostgreSQL, installed by `make test`), as Debian's `postgres` user
# when run as root; when port 5432 is taken or PostgreSQL is missing, those packages are skipped.
NEEDS_PG=$(grep -E '^\./internal/backends(/postgresql.*)?$' <<<"$PACKAGES" || true)
if [ -n "$NEEDS_PG" ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$PGBIN" ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    PGDIR=$(mktemp -d /tmp/dds-engine-pg.XXXXXX)
    AS_PG=()
    if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; AS_PG=(runuser -u postgres --); fi
    trap '"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"' EXIT
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U username --auth=trust --no-sync >/dev/null
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
      -o "-p 5432 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDIR -c fsync=off -c max_connections=300" >/dev/null
    "${AS_PG[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p 5432 -U username ferretdb
  else
    echo "engine: no PostgreSQL on a free 127.0.0.1:5432: skipping $(echo $NEEDS_PG)"
    PACKAGES=$(grep -vxF "$NEEDS_PG" <<<"$PACKAGES" || true)
  fi
fi
if [ -z "$PACKAGES" ]; then
  echo "engine: no patches, no engine tests"
  exit 0
fi
# As FerretDB's own CI runs them: a debug build (its tests check debug-only behaviour), minus
# TestVersion, which pins the exact server versions of that CI (PostgreSQL 16.9; Debian has 15).
echo "engine: go test $(echo $PACKAGES)"
(cd "$SRC" && CGO_ENABLED=0 go test -count=1 -tags ferretdb_debug -skip '^TestVersion$' $PACKAGES)
