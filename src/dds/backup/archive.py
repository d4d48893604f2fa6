"""The archive: a gzip'd tar of a mongodump-style directory plus `manifest.json`.

Written and read as streams, so memory stays flat whatever the size; every member
is checked against the manifest before a restore may use it.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from dds.backup.manifest import MANIFEST_NAME, HashingSink, Manifest, check_files, copy_hashed, sha256_file
from dds.core.errors import BackupCorrupt
from dds.store.base import Sink

SUFFIX = ".tar.gz"
EXPORT_SUFFIX = ".mongodump.tar.gz"  # the portable export beside a physical backup


def pack_into(dump_dir: Path, manifest: Manifest, sink: Sink, level: int = 1) -> tuple[int, str]:
    """Stream the manifest and every file of `dump_dir` into `sink`; returns (size, sha256)."""
    (dump_dir / MANIFEST_NAME).write_text(manifest.to_json())
    out = HashingSink(sink)
    with (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        tar.add(dump_dir / MANIFEST_NAME, arcname=MANIFEST_NAME)
        for entry in manifest.files:
            tar.add(dump_dir / entry.path, arcname=f"dump/{entry.path}")
    return out.size, out.digest.hexdigest()


def pack(dump_dir: Path, manifest: Manifest, dest: Path, level: int = 1) -> tuple[int, str]:
    """Write the manifest and every file of `dump_dir` into `dest`; returns (size, sha256)."""
    with dest.open("wb") as raw:
        return pack_into(dump_dir, manifest, raw, level)


def verify_archive(path: Path, size: int, sha256: str) -> None:
    """The archive as a whole matches what the backup row recorded."""
    if not path.exists():
        raise BackupCorrupt("The backup file is missing from the backup store.")
    if path.stat().st_size != size:
        raise BackupCorrupt(f"The backup file has {path.stat().st_size} bytes, expected {size}.")
    if sha256_file(path) != sha256:
        raise BackupCorrupt("The backup file failed its sha256 check; it is damaged.")


def _safe_member(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BackupCorrupt(f"The backup file holds an unsafe path {name!r}.")
    return p


def unpack(path: Path, dest: Path) -> Manifest:
    """Extract into `dest` (the dump under `dest/dump`), checking every file against the
    manifest: a missing, extra, resized or altered file fails before anything is restored."""
    dest.mkdir(parents=True, exist_ok=True)
    seen: dict[str, tuple[int, str]] = {}
    manifest: Manifest | None = None
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                rel = _safe_member(member.name)
                if not member.isfile():
                    raise BackupCorrupt(f"The backup file holds a non-file member {member.name!r}.")
                src = tar.extractfile(member)
                assert src is not None
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                size, sha = copy_hashed(src, target)
                if rel.as_posix() == MANIFEST_NAME:
                    manifest = Manifest.from_json(target.read_text())
                elif rel.parts[0] == "dump":
                    seen[PurePosixPath(*rel.parts[1:]).as_posix()] = (size, sha)
                else:
                    raise BackupCorrupt(f"Unexpected member {member.name!r} in the backup file.")
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BackupCorrupt(f"The backup file cannot be read: {exc}.") from None
    checked = check_files(manifest, seen)
    (dest / "dump").mkdir(exist_ok=True)  # a backup of an empty instance has no dump files
    return checked


def clear(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
