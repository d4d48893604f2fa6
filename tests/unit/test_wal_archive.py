"""The WAL archive's pure parts: names and positions, coverage and restore points, fetching."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from dds.archiver.store import DirStore
from dds.walarchive import coverage, fetch, wal
from dds.walarchive.coverage import BaseBackup, Coverage, Stretch

SEG = wal.SEGMENT_BYTES


def test_names_and_positions() -> None:
    assert wal.parse_lsn("16/B374D848") == 0x16_B374D848
    assert wal.segment_name(2, 0x100 + 5) == "000000020000000100000005"
    assert wal.segno_of("000000020000000100000005") == 0x105
    assert wal.segno_of("000000020000000100000005.partial") is None
    assert wal.segno_of("00000002.history") is None and wal.is_history("00000002.history")
    assert wal.segment_and_offset(wal.SEGMENT_BYTES * 3 + 7) == (3, 7)
    label = "START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nCHECKPOINT LOCATION: 0/4000060\n"
    assert wal.start_segno(label) == 4
    with pytest.raises(ValueError):
        wal.start_segno("nothing here")


def test_coverage_grows_with_heartbeats_and_a_fresh_stream_starts_a_range() -> None:
    cov = Coverage()
    cov.extend(1_000, first_lsn=SEG)
    cov.extend(2_000, first_lsn=None)
    cov.extend(1_500, first_lsn=None)  # an older beat never moves the end back
    cov.extend(9_000, first_lsn=8 * SEG)  # the receiver began again with nothing to go on from
    cov.extend(9_500, first_lsn=None)
    assert cov.ranges == [Stretch(1_000, 2_000, SEG), Stretch(9_000, 9_500, 8 * SEG)]
    again = Coverage.from_json(cov.to_json())
    assert again == cov


def test_a_time_is_restorable_from_the_end_of_a_backup_whose_wal_end_the_range_holds() -> None:
    cov = Coverage(ranges=[Stretch(1_000, 5_000, 2 * SEG), Stretch(9_000, 12_000, 8 * SEG)])
    # Ended in the segment the receiver began with, just before it began: the archive has it all.
    same_segment = BaseBackup("same-segment", 900, 2 * SEG + 10)
    too_early = BaseBackup("too-early", 800, 2 * SEG - 10)  # its WAL end is before the archive
    later = BaseBackup("later", 3_400, 3 * SEG)
    other = BaseBackup("other", 9_300, 8 * SEG + 5)
    backups = [too_early, same_segment, later, other]
    assert cov.restorable(backups) == [(1_000, 5_000), (9_300, 12_000)]
    assert cov.backup_for(backups, 2_500) == same_segment
    assert cov.backup_for(backups, 3_400) == later  # the latest one that ended by then
    assert cov.backup_for(backups, 9_200) is None  # in the second range, before its backup ended
    assert cov.backup_for(backups, 7_000) is None  # in the gap
    assert cov.backup_for(backups, 12_001) is None  # past what the archive proves
    # A backup of the first stretch does not serve the second: WAL between them is missing.
    assert cov.restorable([later]) == [(3_400, 5_000)]
    assert cov.restorable([too_early]) == []


def test_expiry_forgets_old_files_and_cuts_the_ranges() -> None:
    cov = Coverage(
        ranges=[Stretch(1_000, 2_000, SEG), Stretch(3_000, 9_000, 3 * SEG)],
        files={"files/a.zst": 1_500, "files/b.zst": 4_000, "partial/c": 8_000},
    )
    assert cov.expire(5_000) == ["files/a.zst", "files/b.zst"]
    assert cov.files == {"partial/c": 8_000}
    # Cut by time: only a backup that ended after the cut still finds its WAL.
    assert cov.restorable([BaseBackup("old", 4_000, 4 * SEG), BaseBackup("new", 6_000, 5 * SEG)]) == [(6_000, 9_000)]


def test_fetch_joins_partial_chunks_pads_them_and_skips_what_recovery_never_reads(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "store")
    z = zstandard.ZstdCompressor()
    seg3, seg4, seg5 = (wal.segment_name(1, n) for n in (3, 4, 5))
    store.write(f"files/{seg3}.zst", z.compress(b"3" * wal.SEGMENT_BYTES))  # before the backup's start
    store.write(f"files/{seg4}.zst", z.compress(b"4" * wal.SEGMENT_BYTES))
    store.write("files/00000002.history.zst", z.compress(b"1\t0/5000000\tno recovery target specified\n"))
    store.write(f"partial/{seg5}/0000000000.zst", z.compress(b"ab"))
    store.write(f"partial/{seg5}/0000000002.zst", z.compress(b"cd"))
    store.write(f"partial/{seg4}/0000000000.zst", z.compress(b"old"))  # the segment is whole now
    coverage.save(store, Coverage(ranges=[Stretch(1, 2, 0)]))
    out = tmp_path / "wal"
    fetch.fetch(store, out, from_segno=4)
    assert sorted(p.name for p in out.iterdir()) == sorted(["00000002.history", seg4, seg5])
    assert (out / seg4).read_bytes() == b"4" * wal.SEGMENT_BYTES
    joined = (out / seg5).read_bytes()
    assert len(joined) == wal.SEGMENT_BYTES and joined.startswith(b"abcd\0") and not joined[4:].strip(b"\0")
    assert coverage.load(store).ranges == [Stretch(1, 2, 0)]
    assert coverage.load(DirStore(tmp_path / "empty")) == Coverage()
