"""Physical archives of PostgreSQL storage: a base backup of one member's server.

Why `pg_basebackup` (and not pgBackRest): it ships with the server, needs no repository or
configuration of its own, streams a tar to its standard output (so the archive goes straight into
the store, compressed on the way, as the SQLite archives do), can be taken from a standby (the
primary is not slowed) and writes PostgreSQL's own `backup_manifest` with a checksum per file,
which `pg_verifybackup` reads. With `-X fetch` the WAL needed to make the copy consistent is in
the same stream: the archive alone restores.

Layout (a tar inside one zstd stream, as SQLite archives): `pgdata/...` (the server's directory as
the base backup gives it, `backup_manifest` included), then `manifest.json` last with every file's
size and sha256. Restores unpack and check it file by file before anything is touched.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, cast

import psycopg
import zstandard
from psycopg import sql

from dds.backup.manifest import (
    MANIFEST_NAME,
    PHYSICAL_POSTGRESQL,
    FileEntry,
    HashingSink,
    Manifest,
    check_files,
    copy_hashed,
)
from dds.backup.physical import SKIP_DATABASES, FileReader, Source
from dds.core.errors import BackupCorrupt, InternalError
from dds.engine import postgres
from dds.engine.postgres import Tools
from dds.provision.local import as_user
from dds.store.base import CHUNK, Sink
from dds.walarchive import wal

PGDATA = "pgdata"
PG_MANIFEST = "backup_manifest"  # PostgreSQL's own, with a checksum per file and the WAL range
REPLICATOR = "pgautofailover_replicator"  # the replication role every member's server trusts on loopback
_SCHEMAS = (
    "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') AND nspname !~ '^pg_'"
)


def argv(tools: Tools, port: int) -> list[str]:
    """The base backup as one tar on standard output, its WAL inside, a fast checkpoint first."""
    return [
        str(tools.bin_dir / "pg_basebackup"),
        "--host=127.0.0.1",
        f"--port={port}",
        f"--username={REPLICATOR}",
        "--no-password",
        "--pgdata=-",
        "--format=tar",
        "--wal-method=fetch",
        "--checkpoint=fast",
        "--manifest-checksums=SHA256",
    ]


@contextlib.contextmanager
def streamed(tools: Tools, port: int, log: Path) -> Iterator[IO[bytes]]:
    """The running base backup's tar stream; raises InternalError (with its log) if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            argv(tools, port),
            **as_user(tools.user),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env={"PATH": f"{tools.bin_dir}:/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        assert proc.stdout is not None
        try:
            yield proc.stdout
        finally:
            if proc.poll() is None and not proc.stdout.closed:
                with contextlib.suppress(OSError):
                    proc.stdout.read()  # a stream read to its end lets the backup finish
            code = proc.wait(timeout=60) if proc.poll() is None else proc.returncode
    if code != 0:
        tail = log.read_text(errors="replace")[-800:]
        raise InternalError(f"The base backup failed (exit {code}): {tail}")


def databases(port: int) -> dict[str, list[str]]:
    """The engine's databases and their collections on a member's server (not system.*, nor the
    oplog's and sessions' databases): a database is a schema with the engine's metadata table."""
    found: dict[str, list[str]] = {}
    with psycopg.connect(postgres.member_url(port), connect_timeout=5, autocommit=True) as conn:
        for (schema,) in conn.execute(_SCHEMAS).fetchall():
            if schema in SKIP_DATABASES:
                continue
            table = sql.Identifier(str(schema), "_ferretdb_database_metadata")
            try:
                rows = conn.execute(sql.SQL("SELECT _jsonb->>'_id' FROM {}").format(table)).fetchall()
            except psycopg.errors.UndefinedTable:
                continue
            found[str(schema)] = sorted(str(r[0]) for r in rows if not str(r[0]).startswith("system."))
    return found


def write(
    source: IO[bytes],
    manifest: Manifest,
    sink: Sink,
    *,
    level: int,
    threads: int,
    check: Callable[[], None],
    ended: Callable[[], None],
) -> tuple[int, str]:
    """Re-pack the base backup's tar from `source` under `pgdata/`, hashing every file, then the
    manifest (`ended` fills in what is known once the files are in), into one zstd stream in
    `sink`; returns the archive's size and sha256."""
    out = HashingSink(sink)
    manifest.format, manifest.compression = PHYSICAL_POSTGRESQL, "zstd"
    manifest.files = []
    cctx = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
    with (
        tarfile.open(fileobj=source, mode="r|", bufsize=CHUNK) as base,
        cctx.stream_writer(cast(IO[bytes], out), closefd=False, write_size=CHUNK) as zw,
        tarfile.open(fileobj=zw, mode="w|", bufsize=CHUNK) as tar,
    ):
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # else 16 KiB a copy (not in typeshed)
        for member in base:
            info = member.replace(name=f"{PGDATA}/{_relative(member.name)}", deep=False)
            info.uname = info.gname = ""
            if member.isdir():
                tar.addfile(info)
            elif member.isfile():
                src = base.extractfile(member)
                assert src is not None
                if _relative(member.name) == PG_MANIFEST:  # small; where the backup's WAL ends is in it
                    body = src.read()
                    manifest.end_lsn = end_lsn(body)
                    src = io.BytesIO(body)
                reader = FileReader(src, check)
                tar.addfile(info, reader)
                manifest.files.append(FileEntry(info.name, info.size, reader.digest.hexdigest()))
            elif member.issym():
                raise InternalError(f"The base backup holds a link ({member.name}); tablespaces are not supported.")
        check()
        ended()
        body = manifest.to_json().encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(body), 0o600, 0
        tar.addfile(info, io.BytesIO(body))
    return out.size, out.digest.hexdigest()


def end_lsn(backup_manifest: bytes) -> int:
    """Where the WAL a base backup needs ends (its `backup_manifest`'s last WAL range): a
    point-in-time restore from it replays the archive from there."""
    try:
        ranges = json.loads(backup_manifest)["WAL-Ranges"]
        return wal.parse_lsn(str(ranges[-1]["End-LSN"]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InternalError(f"The base backup's backup_manifest names no WAL end: {exc}") from None


def _relative(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        raise BackupCorrupt(f"The backup file holds an unsafe path {name!r}.")
    return p.as_posix().removeprefix("./")


def unpack(stream: Source, dest: Path) -> Manifest:
    """Decompress the archive into `dest/pgdata`, checking every file against the manifest (a
    missing, extra, resized or altered file fails before anything is restored)."""
    seen: dict[str, tuple[int, str]] = {}
    manifest: Manifest | None = None
    root = dest / PGDATA
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with (
            zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], stream), read_size=CHUNK) as zr,
            tarfile.open(fileobj=zr, mode="r|", bufsize=CHUNK) as tar,
        ):
            for member in tar:
                if member.name == MANIFEST_NAME:
                    src = tar.extractfile(member)
                    assert src is not None
                    manifest = Manifest.from_json(src.read(16 * 1024**2).decode())
                    continue
                if manifest is not None:
                    raise BackupCorrupt("The backup file holds files after its manifest.")
                rel = PurePosixPath(_relative(member.name))
                if not rel.parts or rel.parts[0] != PGDATA:
                    raise BackupCorrupt(f"Unexpected member {member.name!r} in the backup file.")
                target = dest / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True, mode=0o700)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    src = tar.extractfile(member)
                    assert src is not None
                    seen[rel.as_posix()] = copy_hashed(src, target)
                    target.chmod(0o600)
                else:
                    raise BackupCorrupt(f"The backup file holds a member that is no file: {member.name!r}.")
    except BackupCorrupt:
        raise
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError, ValueError, TypeError, KeyError) as exc:
        raise BackupCorrupt(f"The backup file cannot be read: {exc}.") from None
    return check_files(manifest, seen)


# What a member's server directory carries that must not follow it into another instance: its
# standby settings (the source's primary and slot), signal files, logs, its replication slots.
_NOT_CARRIED = (
    "standby.signal",
    "recovery.signal",
    "backup_label.old",
    "backup_manifest",
    "current_logfiles",
    "startup.log",
    "postmaster.pid",
    "postmaster.opts",
    "postgresql-auto-failover-standby.conf",
)
_STANDBY_INCLUDE = "include 'postgresql-auto-failover-standby.conf'"
_AUTO_SETTINGS_DROPPED = ("synchronous_standby_names", "primary_conninfo", "primary_slot_name", "recovery_")


def detach(pgdata: Path) -> None:
    """Make a base backup's directory a server of its own: no longer a standby of the source's
    primary, nothing of the source's replication left (pg_auto_failover then registers it as a
    new instance's first member). `backup_label` stays: it tells where recovery starts."""
    for name in _NOT_CARRIED:
        (pgdata / name).unlink(missing_ok=True)
    for sub in ("log", "pg_replslot"):
        for entry in (pgdata / sub).glob("*"):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    conf = pgdata / "postgresql.conf"
    lines = conf.read_text().splitlines()
    conf.write_text("".join(f"{line}\n" for line in lines if not line.startswith(_STANDBY_INCLUDE)))
    auto = pgdata / "postgresql.auto.conf"
    if auto.exists():
        kept = [line for line in auto.read_text().splitlines() if not line.strip().startswith(_AUTO_SETTINGS_DROPPED)]
        auto.write_text("".join(f"{line}\n" for line in kept))
