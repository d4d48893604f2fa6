"""Coverage computed from a replica laid out on disk as litestream lays it out (no processes)."""

from __future__ import annotations

import struct
from pathlib import Path

from dds.archiver.catalog import Catalog, Incarnation
from dds.archiver.config import INDEX_KEY
from dds.archiver.coverage import expire, read_coverage
from dds.archiver.ltx import HEADER_SIZE
from dds.archiver.store import DirStore

T0 = 1_800_000_000_000


def ltx(root: Path, prefix: str, level: int, lo: int, hi: int, ts: int) -> None:
    path = root / prefix / "ltx" / str(level) / f"{lo:016x}-{hi:016x}.ltx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(">4sIIIQQq", b"LTX1", 2, 4096, 8, lo, hi, ts).ljust(HEADER_SIZE + 20, b"\0"))


def replica(tmp_path: Path, catalog: Catalog | None, beats: list[int]) -> DirStore:
    for i, ts in enumerate(beats, start=1):
        ltx(tmp_path, "heartbeat/hb1", 0, i, i, ts)
    if catalog is not None:
        (tmp_path / INDEX_KEY).write_bytes(catalog.to_json())
    return DirStore(tmp_path)


def test_a_dropped_database_a_pause_and_the_live_end(tmp_path: Path) -> None:
    app = Incarnation(name="app", id="a1", created_ms=T0 + 500, ino=1)
    old = Incarnation(name="tmp", id="t1", created_ms=T0 + 2_000, ino=2, last_seen_ms=T0 + 6_000, dropped_ms=T0 + 6_250)
    catalog = Catalog(incarnations=(app, old), gap_ms=1_500, settle_ms=1_000).with_pause(T0 + 9_100, T0 + 9_300)
    store = replica(tmp_path, catalog, [T0 + k * 1_000 for k in range(1, 16)])
    ltx(tmp_path, "dbs/app/a1", 0, 1, 1, T0 + 700)
    ltx(tmp_path, "dbs/app/a1", 0, 2, 2, T0 + 4_200)
    ltx(tmp_path, "dbs/tmp/t1", 0, 1, 1, T0 + 2_300)

    cov = read_coverage(store, now_ms=T0 + 15_500)

    rel = [(a - T0, b - T0) for a, b in cov.ranges]
    # live from the second beat; tmp's birth before its first capture; tmp's drop window;
    # the restart pause breaks the chain (and the step after it); the end trails "now".
    assert rel == [(2_301, 6_000), (6_251, 9_000), (11_001, 14_500)]
    assert cov.covered_up_to == T0 + 14_500
    assert cov.databases_at(T0 + 3_000) == {"app", "tmp"}
    assert cov.databases_at(T0 + 7_000) == {"app"}
    assert cov.txid_at("a1", T0 + 4_200) == 1 and cov.txid_at("a1", T0 + 4_201) == 2


def test_nothing_is_covered_without_the_catalog(tmp_path: Path) -> None:
    store = replica(tmp_path, None, [T0 + k * 1_000 for k in range(1, 10)])
    assert read_coverage(store, now_ms=T0 + 20_000).ranges == []


def test_nothing_is_covered_without_heartbeats(tmp_path: Path) -> None:
    assert read_coverage(replica(tmp_path, Catalog(), []), now_ms=T0).ranges == []


def test_expire_deletes_old_dropped_incarnations_and_old_heartbeats_only(tmp_path: Path) -> None:
    old = Incarnation(name="x", id="x1", created_ms=T0, ino=1, last_seen_ms=T0 + 10, dropped_ms=T0 + 20)
    recent = Incarnation(
        name="x", id="x2", created_ms=T0 + 50_000, ino=2, last_seen_ms=T0 + 60_000, dropped_ms=T0 + 60_100
    )
    live = Incarnation(name="y", id="y1", created_ms=T0, ino=3)
    catalog = Catalog(incarnations=(old, recent, live)).with_pause(T0 + 5, T0 + 6).with_pause(T0 + 70_000, T0 + 70_001)
    for inc in catalog.incarnations:
        ltx(tmp_path, f"dbs/{inc.name}/{inc.id}", 0, 1, 1, inc.created_ms + 1)
    ltx(tmp_path, "heartbeat/old", 0, 1, 1, T0 + 100)
    ltx(tmp_path, "heartbeat/cur", 0, 1, 1, T0 + 100)

    kept = expire(DirStore(tmp_path), catalog, now_ms=T0 + 80_000, retention_ms=40_000, keep_heartbeat="cur")

    assert [i.id for i in kept.incarnations] == ["x2", "y1"]
    assert kept.pauses == ((T0 + 70_000, T0 + 70_001),)
    assert (
        not (tmp_path / "dbs/x/x1").exists() and (tmp_path / "dbs/x/x2").exists() and (tmp_path / "dbs/y/y1").exists()
    )
    assert not (tmp_path / "heartbeat/old").exists() and (tmp_path / "heartbeat/cur").exists()
