"""Which databases an instance has had, and since when: the archive's catalog.

Litestream 0.5 keys a replica by file name only. When a MongoDB database is dropped
FerretDB deletes `<db>.sqlite`, and a database created again under the same name would
continue the old replica's transaction numbers; litestream records nothing about the
drop, so a restore between the drop and the re-creation would bring back the dropped
data. So every *incarnation* of a file (same name, new inode or birth time) gets its
own replica path, and this catalog — a small JSON document kept in the replica —
records when each incarnation was first and last seen, plus the sidecar's restarts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dds.archiver.ranges import Range, normalize

SUFFIX = ".sqlite"
FORMAT = 1


@dataclass(frozen=True)
class FileIdentity:
    """What tells one incarnation of a file from the next: inode and birth time."""

    ino: int
    btime_ns: int | None


@dataclass(frozen=True)
class Incarnation:
    """One life of one database file, from creation to drop."""

    name: str
    id: str
    created_ms: int
    ino: int
    btime_ns: int | None = None
    last_seen_ms: int | None = None  # last scan that saw it; set once it is gone
    dropped_ms: int | None = None  # first scan that missed it

    @property
    def live(self) -> bool:
        return self.dropped_ms is None

    @property
    def file(self) -> str:
        return self.name + SUFFIX

    def exists_at(self, t: int) -> bool:
        """Surely existed at `t` (between two scans after its last sighting it may or may not)."""
        return self.created_ms <= t and (self.last_seen_ms is None or t <= self.last_seen_ms)

    def matches(self, ident: FileIdentity) -> bool:
        if self.ino != ident.ino:
            return False
        return self.btime_ns is None or ident.btime_ns is None or self.btime_ns == ident.btime_ns


@dataclass(frozen=True)
class Catalog:
    """The archive's own record, stored as `index.json` at the replica root.

    `gap_ms` and `settle_ms` travel with it so restore ranges can be computed from the
    replica alone, by a process that never saw the sidecar's configuration.
    """

    incarnations: tuple[Incarnation, ...] = ()
    pauses: tuple[Range, ...] = ()
    gap_ms: int = 3000
    settle_ms: int = 2000

    def live(self) -> tuple[Incarnation, ...]:
        return tuple(i for i in self.incarnations if i.live)

    def databases_at(self, t: int) -> set[str]:
        """Databases that surely existed (had a file being archived) at UTC millisecond `t`."""
        return {i.name for i in self.incarnations if i.exists_at(t)}

    def incarnations_at(self, t: int) -> list[Incarnation]:
        return [i for i in self.incarnations if i.exists_at(t)]

    def with_pause(self, start_ms: int, end_ms: int) -> Catalog:
        """Record that the sidecar was restarting (not capturing) from `start_ms` to `end_ms`."""
        return replace(self, pauses=tuple(normalize([*self.pauses, (start_ms, end_ms)])))

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "gap_ms": self.gap_ms,
            "settle_ms": self.settle_ms,
            "pauses": [list(p) for p in self.pauses],
            "databases": [
                {
                    "name": i.name,
                    "incarnation": i.id,
                    "created_ms": i.created_ms,
                    "ino": i.ino,
                    "btime_ns": i.btime_ns,
                    "last_seen_ms": i.last_seen_ms,
                    "dropped_ms": i.dropped_ms,
                }
                for i in self.incarnations
            ],
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Catalog:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown archive index format {doc.get('format')!r}")
        incs = tuple(
            Incarnation(
                name=d["name"],
                id=d["incarnation"],
                created_ms=d["created_ms"],
                ino=d["ino"],
                btime_ns=d.get("btime_ns"),
                last_seen_ms=d.get("last_seen_ms"),
                dropped_ms=d.get("dropped_ms"),
            )
            for d in doc["databases"]
        )
        return cls(
            incarnations=incs,
            pauses=tuple((int(a), int(b)) for a, b in doc.get("pauses", [])),
            gap_ms=int(doc["gap_ms"]),
            settle_ms=int(doc["settle_ms"]),
        )


def incarnation_id(created_ms: int, ino: int) -> str:
    """Sortable by creation time; the inode tells apart two files born in the same millisecond."""
    return f"{created_ms:013d}-{ino:x}"


def reconcile(catalog: Catalog, seen: Mapping[str, FileIdentity], now_ms: int, prev_scan_ms: int | None) -> Catalog:
    """The catalog after a scan at `now_ms` found the files `seen` (name -> identity).

    A live incarnation whose file is gone or is another file now is closed: last seen
    at the previous scan, dropped now. A file without a live incarnation opens one,
    created at its birth time — or, where the filesystem has none, at the previous scan
    (the latest moment it surely did not exist yet), which errs on the safe side.
    """
    incs: list[Incarnation] = []
    live: dict[str, Incarnation] = {}
    for inc in catalog.incarnations:
        if inc.live:
            ident = seen.get(inc.name)
            if ident is None or not inc.matches(ident):
                last = prev_scan_ms if prev_scan_ms is not None else now_ms
                inc = replace(inc, last_seen_ms=max(inc.created_ms, last), dropped_ms=now_ms)
            else:
                live[inc.name] = inc
        incs.append(inc)
    for name, ident in sorted(seen.items()):
        if name in live:
            continue
        if ident.btime_ns is not None:
            created = ident.btime_ns // 1_000_000
        else:
            created = prev_scan_ms if prev_scan_ms is not None else now_ms
        incs.append(
            Incarnation(
                name=name,
                id=incarnation_id(created, ident.ino),
                created_ms=created,
                ino=ident.ino,
                btime_ns=ident.btime_ns,
            )
        )
    return replace(catalog, incarnations=tuple(incs))


def needs_restart(running: Iterable[str], catalog: Catalog) -> bool:
    """Whether the sidecar, started for incarnation ids `running`, must be re-configured."""
    return set(running) != {i.id for i in catalog.live()}


def scan(data_dir: Path) -> dict[str, FileIdentity]:
    """Database name -> identity of every `<db>.sqlite` file in an engine data directory."""
    out: dict[str, FileIdentity] = {}
    try:
        entries = list(os.scandir(data_dir))
    except FileNotFoundError:
        return out
    for entry in entries:
        if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
            continue
        ident = identity(Path(entry.path))
        if ident is not None:
            out[entry.name[: -len(SUFFIX)]] = ident
    return out


def databases(data_dir: Path) -> set[str]:
    """Names of the MongoDB databases whose files are in `data_dir` now."""
    return set(scan(data_dir))


def identity(path: Path) -> FileIdentity | None:
    """Inode and birth time of a regular file, or None if it is gone (a drop racing the scan)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileIdentity(ino=st.st_ino, btime_ns=_birth_time_ns(path, st.st_ino))


class _Ts(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_uint32), ("_pad", ctypes.c_int32)]


class _Statx(ctypes.Structure):
    _fields_ = [
        ("stx_mask", ctypes.c_uint32),
        ("stx_blksize", ctypes.c_uint32),
        ("stx_attributes", ctypes.c_uint64),
        ("stx_nlink", ctypes.c_uint32),
        ("stx_uid", ctypes.c_uint32),
        ("stx_gid", ctypes.c_uint32),
        ("stx_mode", ctypes.c_uint16),
        ("_pad1", ctypes.c_uint16),
        ("stx_ino", ctypes.c_uint64),
        ("stx_size", ctypes.c_uint64),
        ("stx_blocks", ctypes.c_uint64),
        ("stx_attributes_mask", ctypes.c_uint64),
        ("stx_atime", _Ts),
        ("stx_btime", _Ts),
        ("stx_ctime", _Ts),
        ("stx_mtime", _Ts),
        ("_rest", ctypes.c_uint64 * 20),
    ]


_STATX_BTIME = 0x800
_AT_FDCWD = -100
_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    _libc.statx  # noqa: B018 - probe: glibc < 2.28 has no statx
except (OSError, AttributeError):
    _libc = None


def _birth_time_ns(path: Path, ino: int) -> int | None:
    """Birth time through statx(2); Python 3.11 does not expose it on Linux. None where unsupported."""
    if _libc is None:
        return None
    buf = _Statx()
    if _libc.statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BTIME, ctypes.byref(buf)) != 0:
        return None
    if not buf.stx_mask & _STATX_BTIME or buf.stx_ino != ino:
        return None
    return int(buf.stx_btime.tv_sec) * 1_000_000_000 + int(buf.stx_btime.tv_nsec)
