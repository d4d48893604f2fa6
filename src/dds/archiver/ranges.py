"""Restore ranges: closed intervals of UTC milliseconds and the arithmetic on them.

A range `(start, end)` means "restoring at any millisecond t with start <= t <= end
gives exactly the captured state at t". Everything here is pure, so it is unit-tested
without processes.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence

Range = tuple[int, int]

# Stands for "until further notice": an open end, cut later by the sidecar's liveness.
FOREVER = 2**62


def normalize(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, with overlapping or touching ranges merged and empty ones dropped."""
    out: list[Range] = []
    for start, end in sorted(r for r in ranges if r[0] <= r[1]):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def union(*parts: Iterable[Range]) -> list[Range]:
    return normalize(r for part in parts for r in part)


def intersect(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    left, right = normalize(a), normalize(b)
    out: list[Range] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start <= end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """The parts of `a` that lie in no range of `b`."""
    cuts = normalize(b)
    out: list[Range] = []
    for start, end in normalize(a):
        cur = start
        k = bisect.bisect_left(cuts, (cur, -FOREVER)) - 1
        k = max(k, 0)
        while k < len(cuts) and cuts[k][0] <= end:
            cs, ce = cuts[k]
            if ce >= cur:
                if cs > cur:
                    out.append((cur, cs - 1))
                cur = max(cur, ce + 1)
            k += 1
        if cur <= end:
            out.append((cur, end))
    return out


def contains(ranges: Sequence[Range], t: int) -> bool:
    """Whether `t` lies in one of the (normalized) `ranges`."""
    k = bisect.bisect_right(ranges, (t, FOREVER)) - 1
    return k >= 0 and ranges[k][0] <= t <= ranges[k][1]


def live_ranges(captures: Iterable[int], gap_ms: int, pauses: Iterable[Range] = ()) -> list[Range]:
    """Where the sidecar provably captured, from the capture times of its heartbeats.

    Between two heartbeat captures `a < b` at most `gap_ms` apart the sidecar was
    watching, so (a, b] is live. A longer step, or one overlapping a recorded pause
    (a restart), breaks the chain; after a break the first step is not trusted either,
    because the databases do their first sync after a restart at about the same time as
    the heartbeat and may be a few milliseconds later. Pauses themselves are never live.
    """
    hs = sorted(set(captures))
    cuts = normalize(pauses)
    out: list[Range] = []
    prev_ok = False
    for a, b in zip(hs, hs[1:], strict=False):
        ok = b - a <= gap_ms and not intersect([(a + 1, b)], cuts)
        if ok and prev_ok:
            out.append((a + 1, b))
        prev_ok = ok
    return subtract(out, cuts)


def exact_ranges(files: Iterable[tuple[int, int, int]]) -> list[Range]:
    """Where restoring one database file gives exactly its captured state.

    `files` are the LTX files of one replica as (min_txid, max_txid, timestamp_ms),
    any level. `litestream restore -timestamp T` replays a chain of files created
    strictly before T, starting at a snapshot (min_txid 1). Every file's timestamp is
    that of its last transaction, so the state at T is pinned exactly when the chain
    reaches the newest transaction captured before T, and the next transaction is
    known to be captured at or after T (a file ends at it) or there is none yet.
    Once L0 files are pruned only coarse compactions remain and those times are not
    exact: they come out as gaps here.
    """
    ordered = sorted(files, key=lambda f: f[2])
    if not ordered:
        return []
    ends = {f[1] for f in ordered}
    top = max(ends)
    pending: list[tuple[int, int]] = []
    reach = seen = 0
    out: list[Range] = []
    i = 0
    while i < len(ordered):
        ts = ordered[i][2]
        while i < len(ordered) and ordered[i][2] == ts:
            heapq.heappush(pending, (ordered[i][0], ordered[i][1]))
            seen = max(seen, ordered[i][1])
            i += 1
        while pending and pending[0][0] <= reach + 1:
            reach = max(reach, heapq.heappop(pending)[1])
        if reach == seen and (seen == top or seen + 1 in ends):
            out.append((ts + 1, ordered[i][2] if i < len(ordered) else FOREVER))
    return normalize(out)


def reach_at(files: Iterable[tuple[int, int, int]], t: int) -> int:
    """The newest transaction a restore at `t` reaches: the chain of files created before `t`.

    Restoring with `-txid` of this value equals restoring with `-timestamp t` (a file's
    timestamp is that of its last transaction, and those only grow), without litestream's
    refusal of times after a replica's newest file — which an idle database always has.
    """
    spans = sorted((f[0], f[1]) for f in files if f[2] < t)
    reach = 0
    for lo, hi in spans:
        if lo > reach + 1:
            break
        reach = max(reach, hi)
    return reach


def instance_ranges(
    live: Iterable[Range],
    databases: Iterable[tuple[Range, Range | None, Sequence[Range]]],
) -> list[Range]:
    """Covered times of a whole instance.

    `databases` holds, per database incarnation, the time it surely existed, the
    window in which it may or may not have existed (dropped between two scans), and
    its exact ranges. A time is covered when the sidecar was live and every database
    existing then is exact then; uncertain windows are never covered.
    """
    bad: list[Range] = []
    for exists, uncertain, exact in databases:
        bad += subtract([exists], exact)
        if uncertain is not None:
            bad.append(uncertain)
    return subtract(live, bad)
