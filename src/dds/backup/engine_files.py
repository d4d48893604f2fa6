"""What the service reads and changes inside the engine's SQLite files directly.

FerretDB's SQLite handler keeps one file per database, a table per collection and a
`_ferretdb_collections` table naming them. File-level restores (point in time) use this
to list what a restored file holds without starting an engine, and to keep the target's
users: users live in the admin database's `system.users`, and a restore must not bring
back another instance's (or an older) service or tenant credentials.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

USERS = "system.users"
_CATALOG = "_ferretdb_collections"


def collections(db_file: Path) -> list[str]:
    """Collection names of one database file (sorted; system collections included)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        try:
            return sorted(r[0] for r in conn.execute(f"SELECT name FROM {_CATALOG}"))
        except sqlite3.OperationalError:  # an empty database file
            return []


def keep_users(restored_admin: Path, current_admin: Path) -> None:
    """Make the restored admin database hold exactly the users of the current one."""
    if not current_admin.exists():
        return
    if not restored_admin.exists():
        with (
            contextlib.closing(sqlite3.connect(current_admin)) as src,
            contextlib.closing(sqlite3.connect(restored_admin)) as dst,
        ):
            src.backup(dst)
        return
    with contextlib.closing(sqlite3.connect(current_admin)) as src:
        table = _table_of(src, USERS)
        if table is None:
            return
        settings = src.execute(f"SELECT settings FROM {_CATALOG} WHERE name = ?", (USERS,)).fetchone()[0]
        ddl = [
            r[0] for r in src.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,))
        ]
        rows = src.execute(f'SELECT _ferretdb_sjson FROM "{table}"').fetchall()
    with contextlib.closing(sqlite3.connect(restored_admin, isolation_level=None)) as dst:
        dst.execute("BEGIN IMMEDIATE")
        old = _table_of(dst, USERS)
        if old is not None:
            dst.execute(f'DROP TABLE "{old}"')
            dst.execute(f"DELETE FROM {_CATALOG} WHERE name = ?", (USERS,))
        for statement in ddl:
            dst.execute(statement)
        dst.execute(f"INSERT INTO {_CATALOG} (name, table_name, settings) VALUES (?, ?, ?)", (USERS, table, settings))
        dst.executemany(f'INSERT INTO "{table}" (_ferretdb_sjson) VALUES (?)', rows)
        dst.execute("COMMIT")


def _table_of(conn: sqlite3.Connection, collection: str) -> str | None:
    try:
        row = conn.execute(f"SELECT table_name FROM {_CATALOG} WHERE name = ?", (collection,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])
