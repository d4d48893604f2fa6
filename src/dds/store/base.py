"""Backup stores: where archives live. One small interface, chosen by name in settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024  # bytes per read when streaming files in and out


class Sink(Protocol):
    """Where an archive is written while it is produced."""

    def write(self, data: bytes, /) -> int: ...


class BackupStore(Protocol):
    """Streams files in and out; never holds a whole archive in memory."""

    name: str  # "local" | "s3": recorded on each backup row
    bucket: str  # shown as `bucket` by the download-file API

    def put(self, key: str, source: Path) -> None:
        """Store `source` under `key`; the key exists only once the whole file is in."""

    def writer(self, key: str) -> AbstractContextManager[Sink]:
        """A sink whose bytes become the object `key` when the block ends normally.

        If the block raises, nothing is left under `key` (nor any partial upload)."""
        ...

    def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to `dest` (raises BackupCorrupt when it is missing)."""

    def size(self, key: str) -> int | None:
        """Bytes of the object, or None when it does not exist."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of bytes [start, end] (inclusive), for serving downloads."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    def presigned_url(self, key: str, expires: datetime, ttl_seconds: int) -> str | None:
        """A URL the store itself serves, or None when the service signs its own links."""


class ChunkReader:
    """A read-only file object over an iterator of byte chunks (a store's `read`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._view = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = [self._buf[self._view :], *self._chunks]
            self._buf, self._view = b"", 0
            return b"".join(rest)
        while len(self._buf) - self._view < size:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf = self._buf[self._view :] + nxt
            self._view = 0
        out = self._buf[self._view : self._view + size]
        self._view += len(out)
        return out
