"""Physical archives on real SQLite files laid out as FerretDB's SQLite backend lays them out."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from dds.backup import physical
from dds.backup.manifest import Manifest
from dds.backup.snapshot import FrozenFile, frozen
from dds.core.errors import BackupCorrupt, BackupStopped

pytestmark = pytest.mark.unit
Edit = Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]

CATALOG = (
    "CREATE TABLE \"_ferretdb_collections\" (name TEXT NOT NULL UNIQUE CHECK(name != ''), "
    "table_name TEXT NOT NULL UNIQUE CHECK(table_name != ''), settings TEXT NOT NULL CHECK(settings != '')) STRICT"
)


def _engine_file(path: Path, collections: dict[str, list[str]]) -> Path:
    """A database file with the engine's catalog and one table per collection (documents as JSON)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(CATALOG)
        for i, (name, docs) in enumerate(sorted(collections.items())):
            table = f"{name}_{i:08x}"
            conn.execute(f'CREATE TABLE "{table}" (_ferretdb_sjson TEXT NOT NULL) STRICT')
            conn.execute(f'CREATE UNIQUE INDEX "{table}__id_" ON "{table}" (_ferretdb_sjson->"_id")')
            conn.execute("INSERT INTO _ferretdb_collections VALUES (?, ?, ?)", (name, table, f'{{"uuid":"{i}"}}'))
            conn.executemany(f'INSERT INTO "{table}" VALUES (?)', [(d,) for d in docs])
        conn.commit()
    return path


def _rows(path: Path, collection: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (table,) = conn.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (collection,)).fetchone()
        return [r[0] for r in conn.execute(f'SELECT _ferretdb_sjson FROM "{table}" ORDER BY 1')]


def _manifest() -> Manifest:
    return Manifest("b1", "i1", "ferretdb", "v1.24.2", "Single", "2026-01-01T00:00:00Z", "snapshot")


def _archive(tmp_path: Path, check: Callable[[], None] | None = None) -> tuple[bytes, list[Path]]:
    src = tmp_path / "src"
    src.mkdir()
    files = [
        _engine_file(src / "admin.sqlite", {"system.users": ['{"_id":"admin.old"}'], "mine": ['{"_id":1}']}),
        _engine_file(src / "shop.sqlite", {"orders": [f'{{"_id":{i},"x":"{"y" * i}"}}' for i in range(500)]}),
    ]
    frozen = [FrozenFile(f.name, f, f.stat().st_size, []) for f in files]
    out = io.BytesIO()
    size, digest = physical.write(frozen, _manifest(), out, level=2, threads=0, check=check or (lambda: None))
    assert size == len(out.getvalue()) and len(digest) == 64
    return out.getvalue(), files


def test_write_then_unpack_gives_the_same_files(tmp_path: Path) -> None:
    data, files = _archive(tmp_path)
    manifest = physical.unpack(io.BytesIO(data), tmp_path / "x")
    assert manifest.format == "dds-physical/1" and manifest.compression == "zstd"
    assert [f.path for f in manifest.files] == ["data/admin.sqlite", "data/shop.sqlite"]
    for f in files:
        assert (tmp_path / "x" / "data" / f.name).read_bytes() == f.read_bytes()
    assert physical.collections(tmp_path / "x" / "data" / "shop.sqlite") == ["orders"]
    assert physical.collections(tmp_path / "x" / "data" / "admin.sqlite") == ["mine"]  # users are not data


def _retar(data: bytes, edit: Edit) -> bytes:
    """Decompress, let `edit` change the members, and compress again (a consistent zstd stream)."""
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar:
            f = tar.extractfile(m)
            members.append((m.name, f.read() if f else b""))
    members = edit(members)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return zstandard.ZstdCompressor().compress(out.getvalue())


def test_an_altered_file_is_refused_before_anything_is_used(tmp_path: Path) -> None:
    data, _ = _archive(tmp_path)

    def flip(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        name, body = members[1]
        members[1] = (name, body[:5000] + bytes([body[5000] ^ 0xFF]) + body[5001:])
        return members

    with pytest.raises(BackupCorrupt, match="sha256"):
        physical.unpack(io.BytesIO(_retar(data, flip)), tmp_path / "x")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ms: ms[:1] + ms[2:], "lacks"),
        (lambda ms: ms[:-1] + [("data/extra.sqlite", b"SQLite format 3\x00")] + ms[-1:], "does not list"),
        (lambda ms: [("data/../../etc.sqlite", b"x"), *ms], "unexpected member"),
        (lambda ms: ms[:-1], "no manifest"),
    ],
)
def test_missing_extra_unsafe_or_unlisted_members_are_refused(tmp_path: Path, edit: Edit, message: str) -> None:
    data, _ = _archive(tmp_path)
    with pytest.raises(BackupCorrupt, match=message):
        physical.unpack(io.BytesIO(_retar(data, edit)), tmp_path / "x")


def test_a_truncated_stream_is_refused(tmp_path: Path) -> None:
    data, _ = _archive(tmp_path)
    with pytest.raises(BackupCorrupt):
        physical.unpack(io.BytesIO(data[: len(data) // 2]), tmp_path / "x")


def test_a_stop_request_ends_the_write(tmp_path: Path) -> None:
    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] > 2:
            raise BackupStopped()

    with pytest.raises(BackupStopped):
        _archive(tmp_path, check)


def test_keep_users_puts_the_targets_users_into_the_restored_admin(tmp_path: Path) -> None:
    restored = _engine_file(
        tmp_path / "restored.sqlite", {"system.users": ['{"_id":"admin.src"}'], "mine": ['{"_id":"data"}']}
    )
    original = _engine_file(
        tmp_path / "original.sqlite",
        {"other": [], "system.users": ['{"_id":"admin.dds_service"}', '{"_id":"admin.rwuser"}']},
    )
    assert physical.keep_users(restored, original) == 2
    assert _rows(restored, "system.users") == ['{"_id":"admin.dds_service"}', '{"_id":"admin.rwuser"}']
    assert _rows(restored, "mine") == ['{"_id":"data"}']  # the backup's own admin data stays
    assert physical.keep_users(restored, original) == 2  # idempotent: a resumed restore repeats it
    with contextlib.closing(sqlite3.connect(restored)) as conn:
        indexes = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
    assert any(name.endswith("__id_") and name.startswith("system.users") for name in indexes)


def test_frozen_reads_the_file_itself_and_holds_it_while_writes_go_on(tmp_path: Path) -> None:
    """A WAL database with a checkpointable log is held in place (no copy); later writes by
    another connection (the engine) and its checkpoints do not change the held image."""
    path = _engine_file(tmp_path / "shop.sqlite", {"orders": [f'{{"_id":{i}}}' for i in range(100)]})
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute('INSERT INTO "orders_00000000" VALUES (\'{"_id":"in the log"}\')')
    with frozen(None, tmp_path, tmp_path / "staging") as held:
        (f,) = held
        assert f.path == path and f.collections == ["orders"]  # read in place: nothing staged
        assert not (tmp_path / "staging").exists()
        image = path.read_bytes()[: f.size]
        for i in range(200):
            doc = f'{{"_id":"later {i}","pad":"{"x" * 500}"}}'
            writer.execute('INSERT INTO "orders_00000000" VALUES (?)', (doc,))
        writer.execute("PRAGMA wal_checkpoint(PASSIVE)")  # kept out of the file while it is held
        assert path.read_bytes()[: f.size] == image
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    copy = tmp_path / "image.sqlite"
    copy.write_bytes(image)
    rows = _rows(copy, "orders")
    assert '{"_id":"in the log"}' in rows and len(rows) == 101  # the instant of the freeze, exactly
