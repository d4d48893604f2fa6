"""The manifest inside every archive: what the backup is and how to check it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from dds.core.errors import BackupCorrupt
from dds.store.base import CHUNK, Sink

MANIFEST_NAME = "manifest.json"
FORMAT = "dds-backup/1"  # mongodump layout, restored through the wire protocol
PHYSICAL = "dds-physical/1"  # the engine's own files, restored by copying them back
PHYSICAL_POSTGRESQL = "dds-physical-postgresql/1"  # a base backup of a member's PostgreSQL server


@dataclass
class FileEntry:
    """One file of the dump, by its path inside the archive."""

    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    backup_id: str
    instance_id: str
    engine: str
    engine_version: str
    mode: str
    # The instant the data represents: when the engine's files were frozen. UTC, ISO 8601.
    point_in_time: str
    consistency: str  # "snapshot": every database and collection as of point_in_time
    databases: dict[str, list[str]] = field(default_factory=dict)
    documents: int = 0
    files: list[FileEntry] = field(default_factory=list)
    format: str = FORMAT
    compression: str = ""  # physical archives: "zstd"
    # Physical archives: the instance's role grants and custom roles (the gateway's file) as of
    # the backup; the users themselves are in admin's files. None in archives made before.
    authorization: dict[str, Any] | None = None
    # Base backups: when (UTC ms, wall clock) and at which WAL position the backup ended, which a
    # point-in-time restore compares with its WAL archive's coverage. None in other archives.
    ended_ms: int | None = None
    end_lsn: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        raw["files"] = [FileEntry(**f) for f in raw.get("files", [])]
        return cls(**raw)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe(root: Path) -> list[FileEntry]:
    """Size and sha256 of every file under `root`, by relative path, in a stable order."""
    return [
        FileEntry(p.relative_to(root).as_posix(), p.stat().st_size, sha256_file(p))
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    ]


class HashingSink:
    """Hashes and counts the bytes of an archive on their way to the store (one pass, no re-read)."""

    def __init__(self, raw: Sink) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)

    def flush(self) -> None:
        pass


def copy_hashed(src: IO[bytes], target: Path) -> tuple[int, str]:
    """Write one archive member to its file and hash it in the same pass (each byte read once)."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def check_files(manifest: Manifest | None, seen: dict[str, tuple[int, str]]) -> Manifest:
    """The unpacked files are exactly the manifest's, each of its size and sha256, or the backup is corrupt."""
    if manifest is None:
        raise BackupCorrupt("The backup file has no manifest.")
    expected = {f.path: (f.size, f.sha256) for f in manifest.files}
    for name, want in expected.items():
        if name not in seen:
            raise BackupCorrupt(f"The backup file lacks {name}.")
        if seen[name] != want:
            raise BackupCorrupt(f"{name} in the backup file failed its size or sha256 check.")
    extra = set(seen) - set(expected)
    if extra:
        raise BackupCorrupt(f"The backup file holds files its manifest does not list: {sorted(extra)}.")
    return manifest
