"""The users of an instance on PostgreSQL storage, as rows of the engine's `admin.system.users`.

A restore through the wire (a dump loaded into a running replica set) moves documents, not
users: the engine creates a user from a password, and a backup holds only the user's SCRAM
credentials. So the rows are copied as the engine stores them, from the backup's server to the
target's primary (which replicates them), the way a physical restore brings them: every user of
the backup but the kept ones (the service's login and the tenant's administrator), which stay as
the target has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from psycopg import sql

from dds.backup.logins import USERS_TABLE_SQL
from dds.core.errors import BackupCorrupt
from dds.engine import postgres

FILE = "users.json"  # beside a dump: the users of the data it was made from


def read(port: int) -> list[str]:
    """Every user row (JSON text) of the server on `port`."""
    with psycopg.connect(postgres.member_url(port), connect_timeout=5) as conn:
        table = _table(conn)
        rows = conn.execute(sql.SQL("SELECT _jsonb::text FROM {} ORDER BY 1").format(table)).fetchall()
    return [str(r[0]) for r in rows]


def save(port: int, into: Path) -> None:
    """The users of the server on `port`, kept in `into/users.json`."""
    (into / FILE).write_text(json.dumps(read(port)))


def saved(directory: Path) -> list[str] | None:
    path = directory / FILE
    return json.loads(path.read_text()) if path.exists() else None


def replace(port: int, rows: list[str], kept: tuple[str, ...]) -> set[tuple[str, str]]:
    """Make `rows` the users of the primary on `port`, but the `kept` ones (`db.user`), which stay
    as they are; one transaction. Returns every user there now as (db, user)."""
    with psycopg.connect(postgres.member_url(port), connect_timeout=5) as conn, conn.transaction():
        table = _table(conn)
        conn.execute(sql.SQL("DELETE FROM {} WHERE NOT (_jsonb->>'_id' = ANY(%s))").format(table), (list(kept),))
        for row in rows:
            if json.loads(row).get("_id") not in kept:
                conn.execute(sql.SQL("INSERT INTO {} (_jsonb) VALUES (%s::jsonb)").format(table), (row,))
        found = conn.execute(sql.SQL("SELECT _jsonb->>'db', _jsonb->>'user' FROM {}").format(table)).fetchall()
    return {(str(db), str(user)) for db, user in found}


def _table(conn: psycopg.Connection[tuple[object, ...]]) -> sql.Identifier:
    found = conn.execute(USERS_TABLE_SQL).fetchone()
    if found is None:
        raise BackupCorrupt("The server has no users.")
    return sql.Identifier("admin", str(found[0]))
