"""A backup file read from the store with its size and sha256 checked on the way through."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from typing import TypeVar

from dds.core.errors import BackupCorrupt
from dds.store.base import ChunkReader

T = TypeVar("T")


class HashedStream:
    """Chunks from the store, hashed and counted on their way through; the sum is checked once
    the whole stream went by (a damaged file says so by its sum: the clearer reason)."""

    def __init__(self, chunks: Iterator[bytes], size: int, sha256: str) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.expected = (size, sha256)
        self.chunks: Iterator[bytes] = self._hashed(chunks)

    def _hashed(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    def peek(self) -> bytes:
        head = next(self.chunks, b"")
        self.chunks = itertools.chain([head], self.chunks)
        return head

    def unpacked(self, unpack: Callable[[ChunkReader], T]) -> T:
        """`unpack` run on the stream, then the rest of it (tar padding) read and the sum checked;
        an unpack that fails is checked by the sum first too."""
        try:
            out = unpack(ChunkReader(self.chunks))
        except BackupCorrupt:
            self.check()
            raise
        self.check()
        return out

    def check(self) -> None:
        for _ in self.chunks:
            pass
        size, sha256 = self.expected
        if self.size != size:
            raise BackupCorrupt(f"The backup file has {self.size} bytes, expected {size}.")
        if self.digest.hexdigest() != sha256:
            raise BackupCorrupt("The backup file failed its sha256 check; it is damaged.")
