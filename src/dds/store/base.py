"""Backup stores: where archives live. One small interface, chosen by name in settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024  # bytes per read when streaming files in and out


class BackupStore(Protocol):
    """Streams files in and out; never holds a whole archive in memory."""

    name: str  # "local" | "s3": recorded on each backup row
    bucket: str  # shown as `bucket` by the download-file API

    def put(self, key: str, source: Path) -> None:
        """Store `source` under `key`; the key exists only once the whole file is in."""

    def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to `dest` (raises BackupCorrupt when it is missing)."""

    def size(self, key: str) -> int | None:
        """Bytes of the object, or None when it does not exist."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of bytes [start, end] (inclusive), for serving downloads."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    def presigned_url(self, key: str, expires: datetime, ttl_seconds: int) -> str | None:
        """A URL the store itself serves, or None when the service signs its own links."""
