"""Reading litestream's LTX files as they sit in a replica: names and headers only."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

# Layout of the 100-byte LTX header (github.com/superfly/ltx, version 1 "LTX1").
HEADER_SIZE = 100
_MAGIC = b"LTX1"
_HEADER = struct.Struct(">4sIIIQQq")
# File replicas keep `<path>/ltx/<level>/…`, S3 replicas `<path>/<level as %04x>/…`.
_NAME = re.compile(r"(?:^|/)(?:ltx/(\d+)|([0-9a-f]{4}))/([0-9a-f]{16})-([0-9a-f]{16})\.ltx$")


@dataclass(frozen=True, order=True)
class LtxFile:
    """One LTX file of a replica: a run of transactions captured at `timestamp_ms`.

    The timestamp is the moment litestream read the WAL (L0), or the newest such
    moment of the files merged into it (higher levels); `restore -timestamp T` uses
    the files whose timestamp is strictly before T.
    """

    timestamp_ms: int
    level: int
    min_txid: int
    max_txid: int


def parse_name(key: str) -> tuple[int, int, int] | None:
    """(level, min_txid, max_txid) of an LTX file's key in either layout, else None."""
    m = _NAME.search(key)
    if m is None:
        return None
    level = int(m.group(1)) if m.group(1) is not None else int(m.group(2), 16)
    return level, int(m.group(3), 16), int(m.group(4), 16)


def parse_header(data: bytes) -> tuple[int, int, int]:
    """(min_txid, max_txid, timestamp_ms) from the first bytes of an LTX file."""
    if len(data) < _HEADER.size:
        raise ValueError(f"LTX header too short: {len(data)} bytes")
    magic, _flags, _page_size, _commit, min_txid, max_txid, timestamp_ms = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError(f"not an LTX file (magic {magic!r})")
    return int(min_txid), int(max_txid), int(timestamp_ms)
