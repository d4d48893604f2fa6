"""Names and positions of PostgreSQL WAL: what the archive is made of.

A WAL segment file is named by its timeline and its segment number (24 hex digits); a position
(LSN) is a byte offset in the one WAL stream. Everything here is pure.
"""

from __future__ import annotations

import re

SEGMENT_BYTES = 16 * 1024 * 1024  # the servers' default (`initdb --wal-segsize` is never given)
_PER_LOG = 0x1_0000_0000 // SEGMENT_BYTES
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_HISTORY = re.compile(r"^[0-9A-F]{8}\.history$")


def parse_lsn(text: str) -> int:
    """`16/B374D848` as PostgreSQL prints a position."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def segment_name(timeline: int, segno: int) -> str:
    return f"{timeline:08X}{segno // _PER_LOG:08X}{segno % _PER_LOG:08X}"


def segno_of(name: str) -> int | None:
    """The segment number a segment file's name carries (any timeline); None for other files."""
    m = _SEGMENT.match(name)
    return None if m is None else int(m.group(2), 16) * _PER_LOG + int(m.group(3), 16)


def timeline_of(name: str) -> int:
    return int(name[:8], 16)


def is_segment(name: str) -> bool:
    return _SEGMENT.match(name) is not None


def is_history(name: str) -> bool:
    return _HISTORY.match(name) is not None


def segment_and_offset(lsn: int) -> tuple[int, int]:
    return lsn // SEGMENT_BYTES, lsn % SEGMENT_BYTES


def start_segno(backup_label: str) -> int:
    """Where a base backup's recovery starts (its `backup_label`): no WAL before it is needed."""
    for line in backup_label.splitlines():
        if line.startswith("START WAL LOCATION:"):
            m = re.search(r"\(file ([0-9A-F]{24})\)", line)
            if m:
                found = segno_of(m.group(1))
                assert found is not None
                return found
    raise ValueError("backup_label names no start WAL location")
