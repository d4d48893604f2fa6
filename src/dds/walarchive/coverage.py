"""What an instance's WAL archive covers: a small document the archiver keeps beside the WAL.

`ranges` are stretches over which the archive holds every byte of WAL without a gap: a range
starts when an archiver begins streaming with nothing to continue from (at the start of the
segment the primary was writing, `first_lsn`), and its end (UTC ms) moves forward with each
heartbeat the archiver has seen stored (a commit written on the primary, its WAL flushed by the
receiver and shipped). A heartbeat after a time proves the WAL
up to that time is in the archive, and is also the commit recovery stops before (PostgreSQL ends
a time-targeted recovery at the first commit after the target, and refuses one that never meets
such a commit). `files` records when each WAL file was stored, for retention.

A time is restorable when a base backup ended before it, at a WAL position the range holds:
recovery starts from that backup (which carries its own WAL up to its end) and replays the
archive from there up to the time. Everything here is pure apart
from `load` and `save`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dds.archiver.store import ReplicaStore

KEY = "coverage.json"
FORMAT = 1

Range = tuple[int, int]


@dataclass(frozen=True)
class Stretch:
    """WAL without a gap from `first_lsn` on, proven stored up to `end_ms`; begun at `start_ms`."""

    start_ms: int
    end_ms: int
    first_lsn: int


@dataclass(frozen=True)
class BaseBackup:
    """A completed base backup of the instance: when and at which WAL position it ended (a
    restore from it needs the archive from there on)."""

    backup_id: str
    end_ms: int
    end_lsn: int


@dataclass
class Coverage:
    ranges: list[Stretch] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # store key -> when it was stored (ms)

    def extend(self, at_ms: int, first_lsn: int | None) -> None:
        """A heartbeat at `at_ms` is in the archive; `first_lsn`: the stream it belongs to has
        just begun there, with nothing before it (a new range)."""
        if first_lsn is not None or not self.ranges:
            self.ranges.append(Stretch(at_ms, at_ms, first_lsn or 0))
        else:
            last = self.ranges[-1]
            self.ranges[-1] = Stretch(last.start_ms, max(last.end_ms, at_ms), last.first_lsn)

    def expire(self, cutoff_ms: int) -> list[str]:
        """Forget what was stored before `cutoff_ms`; returns the keys to delete. Any WAL written
        after the cutoff is in a file stored after it, so the ranges still hold from there (a
        backup older than the cutoff no longer finds its WAL: its position is before the cut)."""
        old = [key for key, at in self.files.items() if at < cutoff_ms]
        for key in old:
            del self.files[key]
        kept = [r for r in self.ranges if r.end_ms >= cutoff_ms]
        self.ranges = [Stretch(cutoff_ms, r.end_ms, _MAX_LSN) if r.start_ms < cutoff_ms else r for r in kept]
        return old

    def restorable(self, backups: list[BaseBackup]) -> list[Range]:
        """The times a restore can reach: in each range, from the end of its first usable backup."""
        out: list[Range] = []
        for r in self.ranges:
            ends = [bk.end_ms for bk in backups if _usable(bk, r)]
            if ends and min(ends) <= r.end_ms:
                out.append((max(min(ends), r.start_ms), r.end_ms))
        return out

    def backup_for(self, backups: list[BaseBackup], at_ms: int) -> BaseBackup | None:
        """The latest base backup recovery can start from to reach `at_ms` (None: not covered)."""
        for r in self.ranges:
            if r.start_ms <= at_ms <= r.end_ms:
                usable = [bk for bk in backups if _usable(bk, r) and bk.end_ms <= at_ms]
                return max(usable, key=lambda bk: bk.end_ms, default=None)
        return None

    def to_json(self) -> str:
        ranges = [[r.start_ms, r.end_ms, r.first_lsn] for r in self.ranges]
        return json.dumps({"format": FORMAT, "ranges": ranges, "files": self.files}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Coverage:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown coverage format {doc.get('format')!r}")
        ranges = [Stretch(int(a), int(b), int(lsn)) for a, b, lsn in doc["ranges"]]
        return cls(ranges, {str(k): int(v) for k, v in doc["files"].items()})


# After an expiry the first WAL a range still holds is not known by position, only by time: a
# backup must then have ended after the cut (see `_usable`).
_MAX_LSN = 2**64 - 1


def _usable(bk: BaseBackup, r: Stretch) -> bool:
    """The range holds the WAL from the backup's end on: the backup ended at a position the range
    starts at or before (the receiver begins at a segment's start); after an expiry, after the cut."""
    if r.first_lsn == _MAX_LSN:
        return r.start_ms <= bk.end_ms <= r.end_ms
    return bk.end_lsn >= r.first_lsn and bk.end_ms <= r.end_ms


def load(store: ReplicaStore) -> Coverage:
    """The archive's coverage; empty when nothing was archived yet."""
    try:
        return Coverage.from_json(store.read(KEY).decode())
    except KeyError:
        return Coverage()


def save(store: ReplicaStore, coverage: Coverage) -> None:
    store.write(KEY, coverage.to_json().encode())
