"""The base-backup archive format without a server: a tar as pg_basebackup writes it is re-packed
under `pgdata/` with a manifest, unpacks to the same files, and any altered file is refused;
a directory detached from its source loses its standby settings and keeps its backup label."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from dds.backup import base_backup
from dds.backup.manifest import Manifest
from dds.core.errors import BackupCorrupt

FILES = {
    "PG_VERSION": b"15\n",
    "backup_label": b"START WAL LOCATION: 0/3000028\nBACKUP FROM: standby\n",
    "global/pg_control": bytes(range(256)) * 32,
    "base/5/16384": b"\x00" * 8192 + b"rows",
    "pg_wal/000000010000000000000003": b"w" * 70000,
}


def _basebackup_tar() -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for d in ("global", "base", "base/5", "pg_wal"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(info)
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def _archive() -> bytes:
    sink = io.BytesIO()
    manifest = Manifest("b1", "i1", "ferretdb", "v1.24.2", "ReplicaSet", "", "snapshot")
    base_backup.write(_basebackup_tar(), manifest, sink, level=1, threads=0, check=lambda: None, ended=lambda: None)
    return sink.getvalue()


def test_a_base_backup_round_trips(tmp_path: Path) -> None:
    manifest = base_backup.unpack(io.BytesIO(_archive()), tmp_path)
    assert manifest.format == "dds-physical-postgresql/1" and len(manifest.files) == len(FILES)
    for name, data in FILES.items():
        assert (tmp_path / "pgdata" / name).read_bytes() == data


def test_an_altered_file_is_refused(tmp_path: Path) -> None:
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(_archive())).read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for member, data in members:
            if member.name == "pgdata/base/5/16384":
                data = data[:-4] + b"ROWS"  # type: ignore[index]
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    damaged = zstandard.ZstdCompressor().compress(out.getvalue())
    with pytest.raises(BackupCorrupt, match="16384"):
        base_backup.unpack(io.BytesIO(damaged), tmp_path)


def test_detach_leaves_a_server_of_its_own(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    (pgdata / "pg_replslot" / "pgautofailover_standby_2").mkdir(parents=True)
    (pgdata / "log").mkdir()
    (pgdata / "log" / "postgresql.log").write_text("x")
    for name in ("standby.signal", "backup_label", "backup_manifest", "postgresql-auto-failover-standby.conf"):
        (pgdata / name).write_text("x")
    (pgdata / "postgresql.conf").write_text(
        "include 'postgresql-auto-failover-standby.conf' # Auto-generated\n"
        "include 'postgresql-auto-failover.conf' # Auto-generated\nport = 5432\n"
    )
    (pgdata / "postgresql.auto.conf").write_text(
        "# Do not edit\nsynchronous_standby_names = 'ANY 1 (a, b)'\nprimary_conninfo = 'host=x'\nwork_mem = '8MB'\n"
    )
    base_backup.detach(pgdata)
    assert sorted(p.name for p in pgdata.iterdir()) == [
        "backup_label",
        "log",
        "pg_replslot",
        "postgresql.auto.conf",
        "postgresql.conf",
    ]
    assert not any((pgdata / "pg_replslot").iterdir()) and not any((pgdata / "log").iterdir())
    assert (pgdata / "postgresql.conf").read_text() == (
        "include 'postgresql-auto-failover.conf' # Auto-generated\nport = 5432\n"
    )
    assert (pgdata / "postgresql.auto.conf").read_text() == "# Do not edit\nwork_mem = '8MB'\n"
