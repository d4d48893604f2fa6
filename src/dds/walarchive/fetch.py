"""The WAL a point-in-time recovery replays, fetched from the archive into a local directory.

Recovery asks for files by name (`restore_command`); they are all put in one directory first,
from the segment the base backup starts at on (every timeline: recovery follows the histories to
the newest). A segment still being written when it was archived is stored as chunks; they are
joined and padded with zeros to a whole segment, which PostgreSQL reads as the end of the WAL.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import zstandard

from dds.archiver.store import ReplicaStore
from dds.walarchive import wal
from dds.walarchive.shipper import FILES, PARTIAL


def fetch(store: ReplicaStore, dest: Path, from_segno: int) -> int:
    """Every archived file recovery may need from `from_segno` on, into `dest`; returns the bytes
    written."""
    dest.mkdir(parents=True, exist_ok=True)
    dctx = zstandard.ZstdDecompressor()
    written = 0
    chunks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key in sorted(store.keys("")):
        parts = key.split("/")
        if len(parts) == 2 and parts[0] == FILES and parts[1].endswith(".zst"):
            name = parts[1].removesuffix(".zst")
            segno = wal.segno_of(name)
            if wal.is_history(name) or (segno is not None and segno >= from_segno):
                written += _write(dest / name, dctx.decompress(store.read(key)))
        elif len(parts) == 3 and parts[0] == PARTIAL and parts[2].endswith(".zst"):
            segno = wal.segno_of(parts[1])
            if segno is not None and segno >= from_segno:
                chunks[parts[1]].append((int(parts[2].removesuffix(".zst")), key))
    for name, pieces in chunks.items():
        if (dest / name).exists():
            continue  # the segment was completed and stored whole
        data = bytearray()
        for offset, key in sorted(pieces):
            if offset != len(data):
                break  # a chunk missing: what follows it cannot be replayed
            data += dctx.decompress(store.read(key))
        data += bytes(wal.SEGMENT_BYTES - len(data))
        written += _write(dest / name, bytes(data))
    return written


def _write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return len(data)
