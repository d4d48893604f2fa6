"""The archive catalog: incarnations of database files, drops, re-creations, the JSON index."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from dds.archiver.catalog import Catalog, FileIdentity, databases, identity, needs_restart, reconcile, scan
from dds.archiver.ltx import HEADER_SIZE, parse_header, parse_name


def test_a_new_file_opens_an_incarnation_at_its_birth_time() -> None:
    cat = reconcile(Catalog(), {"app": FileIdentity(ino=7, btime_ns=1_500_456_789)}, now_ms=2000, prev_scan_ms=1750)
    (inc,) = cat.incarnations
    assert (inc.name, inc.created_ms, inc.live, inc.file) == ("app", 1500, True, "app.sqlite")
    assert inc.id == "0000000001500-7"


def test_without_birth_time_creation_is_the_previous_scan() -> None:
    cat = reconcile(Catalog(), {"app": FileIdentity(ino=7, btime_ns=None)}, now_ms=2000, prev_scan_ms=1750)
    assert cat.incarnations[0].created_ms == 1750


def test_drop_closes_the_incarnation_between_two_scans() -> None:
    cat = reconcile(Catalog(), {"app": FileIdentity(7, 1_000_000_000)}, now_ms=1100, prev_scan_ms=None)
    cat = reconcile(cat, {"app": FileIdentity(7, 1_000_000_000)}, now_ms=1350, prev_scan_ms=1100)
    cat = reconcile(cat, {}, now_ms=1600, prev_scan_ms=1350)
    (inc,) = cat.incarnations
    assert (inc.last_seen_ms, inc.dropped_ms, inc.live) == (1350, 1600, False)
    assert cat.databases_at(1350) == {"app"}
    assert cat.databases_at(1351) == set()  # maybe dropped already: not claimed
    assert cat.databases_at(999) == set()


def test_recreation_between_two_scans_is_told_apart_by_birth_time_even_with_the_inode_reused() -> None:
    cat = reconcile(Catalog(), {"app": FileIdentity(7, 1_000_000_000)}, now_ms=1100, prev_scan_ms=None)
    cat = reconcile(cat, {"app": FileIdentity(7, 1_200_000_000)}, now_ms=1300, prev_scan_ms=1100)
    old, new = cat.incarnations
    assert old.dropped_ms == 1300 and old.last_seen_ms == 1100
    assert new.live and new.created_ms == 1200 and new.id != old.id
    assert [i.id for i in cat.live()] == [new.id]
    assert needs_restart([old.id], cat)
    assert not needs_restart([new.id], cat)


def test_same_file_seen_again_changes_nothing() -> None:
    seen = {"a": FileIdentity(1, 5_000_000), "b": FileIdentity(2, 6_000_000)}
    cat = reconcile(Catalog(), seen, now_ms=100, prev_scan_ms=None)
    assert reconcile(cat, seen, now_ms=200, prev_scan_ms=100) == cat


def test_index_round_trips_through_json() -> None:
    cat = reconcile(Catalog(gap_ms=1234, settle_ms=99), {"a": FileIdentity(1, 5_000_000)}, 100, None)
    cat = reconcile(cat, {}, 300, 100).with_pause(400, 450).with_pause(440, 500)
    back = Catalog.from_json(cat.to_json())
    assert back == cat
    assert back.pauses == ((400, 500),)
    with pytest.raises(ValueError):
        Catalog.from_json(b'{"format": 99}')


def test_scan_sees_only_database_files(tmp_path: Path) -> None:
    (tmp_path / "app.sqlite").write_bytes(b"")
    (tmp_path / "app.sqlite-wal").write_bytes(b"")
    (tmp_path / "app.sqlite-shm").write_bytes(b"")
    (tmp_path / ".hidden.sqlite").write_bytes(b"")
    (tmp_path / "dir.sqlite").mkdir()
    assert databases(tmp_path) == {"app"}
    assert databases(tmp_path / "missing") == set()
    ident = scan(tmp_path)["app"]
    assert ident.ino == os.stat(tmp_path / "app.sqlite").st_ino


def test_identity_changes_when_a_file_is_deleted_and_created_again(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"1")
    first = identity(path)
    path.unlink()
    path.write_bytes(b"2")
    second = identity(path)
    assert first is not None and second is not None
    if first.btime_ns is None and first.ino == second.ino:
        pytest.skip("filesystem without birth times reused the inode")
    assert first != second
    assert identity(tmp_path / "gone.sqlite") is None


def test_ltx_names_in_both_layouts() -> None:
    assert parse_name("dbs/a/1-2/ltx/0/0000000000000001-000000000000000a.ltx") == (0, 1, 10)
    assert parse_name("p/dbs/a/1-2/0009/0000000000000001-00000000000000ff.ltx") == (9, 1, 255)
    assert parse_name("dbs/a/1-2/ltx/0/0000000000000001-000000000000000a.ltx.tmp") is None
    assert parse_name("index.json") is None


def test_ltx_header() -> None:
    raw = struct.pack(">4sIIIQQq", b"LTX1", 2, 4096, 8, 3, 5, 1_795_000_000_123).ljust(HEADER_SIZE, b"\0")
    assert parse_header(raw) == (3, 5, 1_795_000_000_123)
    with pytest.raises(ValueError):
        parse_header(b"SQLite format 3\0".ljust(HEADER_SIZE, b"\0"))
    with pytest.raises(ValueError):
        parse_header(raw[:10])
