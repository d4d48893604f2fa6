"""Physical archives: the engine's own SQLite files as of one instant, in a zstd-compressed tar.

Layout: `data/<database>.sqlite` for every tenant database (and `admin`), then
`manifest.json` last -- written after the files, so each file is read once: its sha256 is
taken while it is compressed. Restores read the stream once too, hashing each file as it
is written to staging, and check everything against the manifest at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, Protocol, cast
from urllib.parse import quote

import zstandard

from dds.backup.manifest import MANIFEST_NAME, PHYSICAL, FileEntry, HashingSink, Manifest, check_files, copy_hashed
from dds.backup.snapshot import FrozenFile
from dds.core.errors import BackupCorrupt
from dds.store.base import CHUNK, Sink

SUFFIX = ".physical.tar.zst"
DATA = "data"
# Engine-internal databases: the oplog and sessions belong to the instance, not to its data.
SKIP_DATABASES = frozenset({"local", "config"})
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
USERS = "system.users"  # the admin database's users collection (SCRAM keys of every user)


class FileReader:
    """Reads a file for tarfile, hashing it and giving `check` a chance to stop between chunks."""

    def __init__(self, f: IO[bytes], check: Callable[[], None]) -> None:
        self.f = f
        self.check = check
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        self.check()
        data = self.f.read(size)
        self.digest.update(data)
        return data


def collections(path: Path) -> list[str]:
    """Collection names of one engine file, from the engine's own catalog table."""
    with contextlib.closing(sqlite3.connect(_uri(path, "?mode=ro"), uri=True)) as conn:
        try:
            rows = conn.execute("SELECT name FROM _ferretdb_collections ORDER BY name").fetchall()
        except sqlite3.DatabaseError:
            return []
    return [r[0] for r in rows if not r[0].startswith("system.")]


def write(
    files: list[FrozenFile], manifest: Manifest, sink: Sink, *, level: int, threads: int, check: Callable[[], None]
) -> tuple[int, str]:
    """Stream the frozen `files` and then the manifest (filled in with their sizes and sums)
    into `sink`; returns the archive's size and sha256."""
    out = HashingSink(sink)
    manifest.format, manifest.compression = PHYSICAL, "zstd"
    manifest.files = []
    cctx = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
    with (
        cctx.stream_writer(cast(IO[bytes], out), closefd=False, write_size=CHUNK) as zw,
        tarfile.open(fileobj=zw, mode="w|", bufsize=CHUNK) as tar,
    ):
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # else 16 KiB a copy (not in typeshed)
        for frozen in files:
            info = tarfile.TarInfo(f"{DATA}/{frozen.name}")
            info.size, info.mode, info.mtime = frozen.size, 0o600, 0
            with frozen.path.open("rb") as f:
                reader = FileReader(f, check)
                tar.addfile(info, reader)
            manifest.files.append(FileEntry(info.name, info.size, reader.digest.hexdigest()))
        check()
        body = manifest.to_json().encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(body), 0o600, 0
        tar.addfile(info, io.BytesIO(body))
    return out.size, out.digest.hexdigest()


def _safe_name(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or len(p.parts) != 2 or p.parts[0] != DATA:
        raise BackupCorrupt(f"The backup file holds an unexpected member {name!r}.")
    if not p.name.endswith(".sqlite"):
        raise BackupCorrupt(f"The backup file holds a member that is no engine file: {name!r}.")
    return p.name


class Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def unpack(stream: Source, dest: Path) -> Manifest:
    """Decompress the archive from `stream` into `dest/data`, checking every file against the
    manifest: a missing, extra, resized or altered file fails before anything is restored."""
    (dest / DATA).mkdir(parents=True, exist_ok=True)
    seen: dict[str, tuple[int, str]] = {}
    manifest: Manifest | None = None
    try:
        dctx = zstandard.ZstdDecompressor()
        with (
            dctx.stream_reader(cast(IO[bytes], stream), read_size=CHUNK) as zr,
            tarfile.open(fileobj=zr, mode="r|", bufsize=CHUNK) as tar,
        ):
            for member in tar:
                if not member.isfile():
                    raise BackupCorrupt(f"The backup file holds a non-file member {member.name!r}.")
                src = tar.extractfile(member)
                assert src is not None
                if member.name == MANIFEST_NAME:
                    manifest = Manifest.from_json(src.read(16 * 1024**2).decode())
                    continue
                if manifest is not None:
                    raise BackupCorrupt("The backup file holds files after its manifest.")
                target = dest / DATA / _safe_name(member.name)
                seen[member.name] = copy_hashed(src, target)
    except BackupCorrupt:
        raise
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError, ValueError, TypeError, KeyError) as exc:
        raise BackupCorrupt(f"The backup file cannot be read: {exc}.") from None
    return check_files(manifest, seen)


def _uri(path: Path, query: str = "") -> str:
    return f"file:{quote(str(path.resolve()))}{query}"


def copy_database(src: Path, dst: Path) -> None:
    """A whole engine file, WAL included, through SQLite's backup API (the engine is stopped)."""
    with (
        contextlib.closing(sqlite3.connect(_uri(src, "?mode=ro"), uri=True)) as source,
        contextlib.closing(sqlite3.connect(dst)) as target,
    ):
        source.backup(target)


def _users_objects(conn: sqlite3.Connection, schema: str) -> tuple[tuple[str, str, str] | None, list[str]]:
    """The users collection's catalog row and the SQL creating its table and indexes."""
    catalog = f"SELECT name, table_name, settings FROM {schema}._ferretdb_collections WHERE name = ?"
    found = conn.execute(catalog, (USERS,)).fetchone()
    if found is None:
        return None, []
    sql = conn.execute(
        f"SELECT sql FROM {schema}.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC",
        (found[1],),
    ).fetchall()  # "table" sorts after "index" descending: the table first
    return (found[0], found[1], found[2]), [s[0] for s in sql]


def keep_users(restored_admin: Path, original_admin: Path) -> int:
    """Give the restored admin database the users of the original one (the target's): the
    service's management user, the tenant's rwuser and every other user stay as the target had
    them, while the rest of admin's data comes from the backup. Returns the users kept."""
    with contextlib.closing(sqlite3.connect(_uri(restored_admin), uri=True, isolation_level=None)) as conn:
        conn.execute("ATTACH DATABASE ? AS original", (_uri(original_admin, "?mode=ro"),))
        conn.execute("BEGIN IMMEDIATE")
        try:
            old, _ = _users_objects(conn, "main")
            if old is not None:
                conn.execute(f'DROP TABLE IF EXISTS main."{old[1]}"')
                conn.execute("DELETE FROM main._ferretdb_collections WHERE name = ?", (USERS,))
            keep, sql = _users_objects(conn, "original")
            if keep is None:
                raise BackupCorrupt("The target instance has no users to keep.")
            for statement in sql:  # the table first, then its indexes
                conn.execute(statement)
            conn.execute("INSERT INTO main._ferretdb_collections (name, table_name, settings) VALUES (?, ?, ?)", keep)
            conn.execute(f'INSERT INTO main."{keep[1]}" SELECT * FROM original."{keep[1]}"')
            count = int(conn.execute(f'SELECT count(*) FROM main."{keep[1]}"').fetchone()[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("DETACH DATABASE original")
    return count


def take_users(restored_admin: Path, original_admin: Path, kept: tuple[str, ...]) -> None:
    """Give the restored admin database the backup's users, except `kept` (user ids such as
    `admin.rwuser`), which stay exactly as the target has them: the service keeps its login and
    the tenant's administrator the password it has (or was given for a new instance). A user the
    backup does not have is gone, one it has is back with the credentials it had then."""
    with contextlib.closing(sqlite3.connect(_uri(restored_admin), uri=True, isolation_level=None)) as conn:
        conn.execute("ATTACH DATABASE ? AS original", (_uri(original_admin, "?mode=ro"),))
        conn.execute("BEGIN IMMEDIATE")
        try:
            theirs, sql = _users_objects(conn, "original")
            if theirs is None:
                raise BackupCorrupt("The target instance has no users to keep.")
            mine, _ = _users_objects(conn, "main")
            if mine is None:  # a backup without users: the kept ones alone
                for statement in sql:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO main._ferretdb_collections (name, table_name, settings) VALUES (?, ?, ?)", theirs
                )
                mine = theirs
            marks = ", ".join("?" * len(kept))
            conn.execute(f"DELETE FROM main.\"{mine[1]}\" WHERE _ferretdb_sjson->>'_id' IN ({marks})", kept)
            conn.execute(
                f'INSERT INTO main."{mine[1]}" SELECT * FROM original."{theirs[1]}" '
                f"WHERE _ferretdb_sjson->>'_id' IN ({marks})",
                kept,
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("DETACH DATABASE original")


def user_names(admin: Path) -> set[tuple[str, str]]:
    """(database, user) of every user in an engine's admin file."""
    with contextlib.closing(sqlite3.connect(_uri(admin, "?mode=ro"), uri=True)) as conn:
        found, _ = _users_objects(conn, "main")
        if found is None:
            return set()
        rows = conn.execute(f"SELECT _ferretdb_sjson->>'db', _ferretdb_sjson->>'user' FROM \"{found[1]}\"")
        return {(str(db), str(user)) for db, user in rows}


def is_physical(head: bytes) -> bool:
    """Physical archives are zstd streams; the mongodump-layout ones are gzip."""
    return head.startswith(ZSTD_MAGIC)
