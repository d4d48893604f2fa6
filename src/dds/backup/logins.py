"""A one-time login for the service on a restored copy of an instance's data.

A copy (a backup brought up, or files restored as of a time) is read by a temporary engine as the
service user, whose password is the one the instance had when the copy was made. The instance may
be gone since (a deleted instance's backup, the recycle bin) and its password with it, so the
copy's service user is given a fresh password first: the copy is ours, never served to anyone.
The engine keeps SCRAM credentials as MongoDB does (RFC 5802/7677): salted password by PBKDF2,
stored key and server key from it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from dds.core.errors import BackupCorrupt
from dds.engine import postgres

USER_ID = "admin.dds_service"  # the service user's `_id` in admin's system.users
TENANT_ID = "admin.rwuser"
MECHANISM = "SCRAM-SHA-256"
USERS_TABLE_SQL = "SELECT _jsonb->>'table' FROM admin._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'system.users'"


def fresh_password() -> str:
    return secrets.token_urlsafe(24)


def scram_sha256(password: str, salt: bytes, iterations: int) -> dict[str, str]:
    """The stored credential fields (base64) of `password` under `salt` and `iterations`."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return {
        "salt": base64.b64encode(salt).decode(),
        "storedKey": base64.b64encode(hashlib.sha256(client_key).digest()).decode(),
        "serverKey": base64.b64encode(server_key).decode(),
    }


def _fields(credentials: object, password: str) -> dict[str, str]:
    """New credential fields for the user's current SCRAM-SHA-256 entry (its iteration count kept)."""
    if not isinstance(credentials, dict) or not isinstance(credentials.get("iterationCount"), int):
        raise BackupCorrupt("The copy's service user has no SCRAM-SHA-256 credentials.")
    return scram_sha256(password, secrets.token_bytes(28), int(credentials["iterationCount"]))


def reset_in_postgresql(port: int, password: str, user_id: str = USER_ID, required: bool = True) -> None:
    """On a server brought up from a base backup (writable: it is the copy's own). A user that is
    not there is an error unless not `required`."""
    with psycopg.connect(postgres.member_url(port), connect_timeout=5) as conn:
        found = conn.execute(USERS_TABLE_SQL).fetchone()
        if found is None:
            raise BackupCorrupt("The copy has no users.")
        table = sql.Identifier("admin", str(found[0]))
        row = conn.execute(
            sql.SQL("SELECT _jsonb->'credentials'->%s FROM {} WHERE _jsonb->>'_id' = %s").format(table),
            (MECHANISM, user_id),
        ).fetchone()
        if row is None and not required:
            return
        if row is None:
            raise BackupCorrupt(f"The copy has no user {user_id}.")
        update = sql.SQL(
            "UPDATE {} SET _jsonb = _jsonb || jsonb_build_object('credentials', _jsonb->'credentials' || "
            "jsonb_build_object(%s::text, (_jsonb->'credentials'->%s::text) || %s::jsonb)) "
            "WHERE _jsonb->>'_id' = %s::text"
        )
        fields = json.dumps(_fields(row[0], password))
        conn.execute(update.format(table), (MECHANISM, MECHANISM, fields, user_id))


def reset_in_sqlite(admin_file: Path, password: str) -> None:
    """In an engine's admin file of a copy (before an engine opens it)."""
    with contextlib.closing(sqlite3.connect(admin_file, isolation_level=None)) as conn:
        found = conn.execute("SELECT table_name FROM _ferretdb_collections WHERE name = 'system.users'").fetchone()
        if found is None:
            raise BackupCorrupt("The copy has no users.")
        table = str(found[0]).replace('"', '""')
        path = f'$.credentials."{MECHANISM}"'
        row = conn.execute(
            f"SELECT json_extract(_ferretdb_sjson, ?) FROM \"{table}\" WHERE _ferretdb_sjson->>'_id' = ?",
            (path, USER_ID),
        ).fetchone()
        if row is None or row[0] is None:
            raise BackupCorrupt("The copy has no service user.")
        fields = _fields(json.loads(row[0]), password)
        conn.execute(
            f'UPDATE "{table}" SET _ferretdb_sjson = json_set(_ferretdb_sjson, ?, ?, ?, ?, ?, ?) '
            "WHERE _ferretdb_sjson->>'_id' = ?",
            (
                f"{path}.salt",
                fields["salt"],
                f"{path}.storedKey",
                fields["storedKey"],
                f"{path}.serverKey",
                fields["serverKey"],
                USER_ID,
            ),
        )
