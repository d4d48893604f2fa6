"""Restore ranges of an instance, computed from what is actually in its replica.

"Covered up to" is the newest heartbeat capture in the replica — the moment litestream
last proved it was reading the WALs — less a settle margin for uploads of other
databases that may trail the heartbeat's. It is *not* the time of the last data
write: an idle database writes no LTX files, and only the heartbeat tells an idle
stretch from a stopped sidecar.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dds.archiver.catalog import Catalog, Incarnation
from dds.archiver.config import INDEX_KEY, db_key
from dds.archiver.ltx import LtxFile
from dds.archiver.ranges import (
    FOREVER,
    Range,
    contains,
    exact_ranges,
    instance_ranges,
    intersect,
    live_ranges,
    reach_at,
)
from dds.archiver.store import LtxLister, ReplicaStore, read_index


@dataclass(frozen=True)
class Coverage:
    """The covered restore ranges of one instance at `computed_at_ms`."""

    ranges: list[Range]
    catalog: Catalog
    covered_up_to: int | None
    computed_at_ms: int
    files: Mapping[str, tuple[LtxFile, ...]] = field(default_factory=dict)  # incarnation id -> its LTX files

    def contains(self, t: int) -> bool:
        return contains(self.ranges, t)

    def databases_at(self, t: int) -> set[str]:
        """Which databases existed (had a file being archived) at UTC millisecond `t`."""
        return self.catalog.databases_at(t)

    def txid_at(self, incarnation_id: str, t: int) -> int:
        """The transaction a restore of one incarnation at `t` ends with (0: nothing captured yet)."""
        return reach_at(((f.min_txid, f.max_txid, f.timestamp_ms) for f in self.files.get(incarnation_id, ())), t)


def load_catalog(store: ReplicaStore) -> Catalog:
    raw = read_index(store)
    return Catalog.from_json(raw) if raw is not None else Catalog()


def read_coverage(store: ReplicaStore, *, now_ms: int | None = None, lister: LtxLister | None = None) -> Coverage:
    """Covered restore ranges as UTC millisecond pairs, closed at both ends."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    raw = read_index(store)
    catalog = Catalog.from_json(raw) if raw is not None else Catalog()
    lister = lister or LtxLister(store)
    captures = sorted({f.timestamp_ms for p in lister.prefixes("heartbeat", 1) for f in lister.files(p)})
    if raw is None or not captures:
        # Without the catalog nobody can tell which databases existed: nothing is covered.
        return Coverage(ranges=[], catalog=catalog, covered_up_to=None, computed_at_ms=now)
    end = min(captures[-1], now - catalog.settle_ms)
    live = intersect(live_ranges(captures, catalog.gap_ms, catalog.pauses), [(0, end)])
    per_db = []
    files: dict[str, tuple[LtxFile, ...]] = {}
    for inc in catalog.incarnations:
        files[inc.id] = tuple(sorted(lister.files(db_key(inc.name, inc.id))))
        exact = exact_ranges((f.min_txid, f.max_txid, f.timestamp_ms) for f in files[inc.id])
        per_db.append((_exists(inc), _uncertain(inc), exact))
    ranges = instance_ranges(live, per_db)
    return Coverage(ranges=ranges, catalog=catalog, covered_up_to=end, computed_at_ms=now, files=files)


def expire(store: ReplicaStore, catalog: Catalog, now_ms: int, retention_ms: int, keep_heartbeat: str) -> Catalog:
    """Delete what litestream's own retention never touches: the replicas of dropped
    incarnations and of old heartbeat databases, once older than the window. Returns the
    catalog without them (the caller publishes it)."""
    horizon = now_ms - retention_ms
    kept: list[Incarnation] = []
    for inc in catalog.incarnations:
        if inc.dropped_ms is not None and inc.dropped_ms < horizon:
            store.delete_prefix(db_key(inc.name, inc.id))
        else:
            kept.append(inc)
    lister = LtxLister(store)
    for prefix in lister.prefixes("heartbeat", 1):
        if prefix.endswith("/" + keep_heartbeat):
            continue
        newest = max((f.timestamp_ms for f in lister.files(prefix)), default=0)
        if newest < horizon:
            store.delete_prefix(prefix)
    pauses = tuple(p for p in catalog.pauses if p[1] >= horizon)
    return replace(catalog, incarnations=tuple(kept), pauses=pauses)


def publish(store: ReplicaStore, catalog: Catalog) -> None:
    store.write(INDEX_KEY, catalog.to_json())


def _exists(inc: Incarnation) -> Range:
    return (inc.created_ms, inc.last_seen_ms if inc.last_seen_ms is not None else FOREVER)


def _uncertain(inc: Incarnation) -> Range | None:
    if inc.dropped_ms is None or inc.last_seen_ms is None:
        return None
    return (inc.last_seen_ms + 1, inc.dropped_ms)
