"""A directory on the service's host: the embedded default store."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from dds.core.errors import BackupCorrupt, InvalidParameter
from dds.store.base import CHUNK, Sink


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.bucket = root.name

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise InvalidParameter("Invalid backup object key.")
        return path

    def put(self, key: str, source: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.copyfile(source, partial)
        with partial.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, dest)  # atomic: the key appears only complete

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        """Written to `<key>.partial`, renamed into place only when complete; removed on failure."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        try:
            with partial.open("wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)

    def fetch(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.exists():
            raise BackupCorrupt("The backup file is missing from the backup store.")
        shutil.copyfile(src, dest)

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.exists() else None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        with path.open("rb") as f:
            f.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned_url(self, key: str, expires: datetime, ttl_seconds: int) -> str | None:
        return None  # the service signs and serves its own links

    def local_path(self, key: str) -> Path:
        return self._path(key)
