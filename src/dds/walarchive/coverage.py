"""What an instance's WAL archive covers: a small document the archiver keeps beside the WAL.

`ranges` are closed intervals of UTC milliseconds over which the archive holds every byte of WAL
without a gap: a range starts when an archiver begins streaming with nothing to continue from,
and its end moves forward with each heartbeat the archiver has seen stored (a commit written on
the primary, its WAL flushed by the receiver and shipped). A heartbeat after a time proves the WAL
up to that time is in the archive, and is also the commit recovery stops before (PostgreSQL ends
a time-targeted recovery at the first commit after the target, and refuses one that never meets
such a commit). `files` records when each WAL file was stored, for retention.

A time is restorable when a base backup taken inside the same range ended before it: recovery
starts from that backup and replays the archive up to the time. Everything here is pure apart
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
class BaseBackup:
    """A completed base backup of the instance, as the restore chooses among them."""

    backup_id: str
    start_ms: int
    end_ms: int


@dataclass
class Coverage:
    ranges: list[Range] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # store key -> when it was stored (ms)

    def extend(self, at_ms: int, fresh: bool) -> None:
        """A heartbeat at `at_ms` is in the archive; `fresh`: the stream it belongs to has just
        begun with nothing before it (a new range)."""
        if fresh or not self.ranges:
            self.ranges.append((at_ms, at_ms))
        else:
            start, end = self.ranges[-1]
            self.ranges[-1] = (start, max(end, at_ms))

    def expire(self, cutoff_ms: int) -> list[str]:
        """Forget what was stored before `cutoff_ms`; returns the keys to delete. Any WAL written
        after the cutoff is in a file stored after it, so the ranges still hold from there."""
        old = [key for key, at in self.files.items() if at < cutoff_ms]
        for key in old:
            del self.files[key]
        self.ranges = [(max(a, cutoff_ms), b) for a, b in self.ranges if b >= cutoff_ms]
        return old

    def restorable(self, backups: list[BaseBackup]) -> list[Range]:
        """The times a restore can reach: in each range, from the end of its first base backup."""
        out: list[Range] = []
        for a, b in self.ranges:
            ends = [bk.end_ms for bk in backups if bk.start_ms >= a and bk.end_ms <= b]
            if ends:
                out.append((min(ends), b))
        return out

    def backup_for(self, backups: list[BaseBackup], at_ms: int) -> BaseBackup | None:
        """The latest base backup recovery can start from to reach `at_ms` (None: not covered)."""
        for a, b in self.ranges:
            if a <= at_ms <= b:
                usable = [bk for bk in backups if bk.start_ms >= a and bk.end_ms <= at_ms]
                return max(usable, key=lambda bk: bk.end_ms, default=None)
        return None

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "ranges": self.ranges, "files": self.files}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Coverage:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown coverage format {doc.get('format')!r}")
        return cls([(int(a), int(b)) for a, b in doc["ranges"]], {str(k): int(v) for k, v in doc["files"].items()})


def load(store: ReplicaStore) -> Coverage:
    """The archive's coverage; empty when nothing was archived yet."""
    try:
        return Coverage.from_json(store.read(KEY).decode())
    except KeyError:
        return Coverage()


def save(store: ReplicaStore, coverage: Coverage) -> None:
    store.write(KEY, coverage.to_json().encode())
