"""Restore-range arithmetic: merging, gaps, liveness from heartbeats, exactness of LTX chains."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dds.archiver.ranges import (
    FOREVER,
    contains,
    exact_ranges,
    instance_ranges,
    intersect,
    live_ranges,
    normalize,
    reach_at,
    subtract,
    union,
)


def test_normalize_merges_overlapping_and_touching_and_drops_empty() -> None:
    assert normalize([(5, 9), (1, 3), (4, 4), (20, 30), (25, 26), (40, 39)]) == [(1, 9), (20, 30)]


def test_normalize_keeps_a_one_millisecond_hole() -> None:
    assert normalize([(1, 3), (5, 9)]) == [(1, 3), (5, 9)]


def test_subtract_cuts_holes_and_edges() -> None:
    assert subtract([(0, 100)], [(10, 20), (50, 50), (90, 200)]) == [(0, 9), (21, 49), (51, 89)]
    assert subtract([(0, 10), (20, 30)], [(5, 25)]) == [(0, 4), (26, 30)]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert subtract([(0, 10)], [(-5, 15)]) == []


def test_intersect_and_union() -> None:
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert union([(0, 1)], [(2, 3)], [(10, 11)]) == [(0, 3), (10, 11)]


def test_contains_is_closed_at_both_ends() -> None:
    ranges = [(10, 20), (30, 40)]
    assert contains(ranges, 10) and contains(ranges, 20) and contains(ranges, 35)
    assert not contains(ranges, 9) and not contains(ranges, 21) and not contains(ranges, 41)
    assert not contains([], 0)


spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6)


def _points(ranges: list[tuple[int, int]]) -> set[int]:
    return {t for a, b in ranges for t in range(a, b + 1)}


@given(spans, spans)
def test_set_operations_agree_with_sets_of_milliseconds(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    assert _points(subtract(a, b)) == _points(a) - _points(b)
    assert _points(intersect(a, b)) == _points(a) & _points(b)
    assert _points(union(a, b)) == _points(a) | _points(b)
    merged = normalize(a)
    assert all(merged[i][1] + 1 < merged[i + 1][0] for i in range(len(merged) - 1))
    assert all(contains(merged, t) == (t in _points(a)) for t in range(-1, 62))


def test_live_ranges_start_at_the_second_capture_and_end_at_the_last() -> None:
    # Steady heartbeats every 1000 ms: the first step after the start is not trusted.
    assert live_ranges([1000, 2000, 3000, 4000], gap_ms=1500) == [(2001, 4000)]


def test_a_stopped_sidecar_is_a_gap_and_coverage_resumes_one_beat_later() -> None:
    caps = [1000, 2000, 3000, 9000, 10000, 11000, 12000]
    assert live_ranges(caps, gap_ms=1500) == [(2001, 3000), (10001, 12000)]


def test_a_recorded_pause_breaks_the_chain_even_when_short() -> None:
    caps = [1000, 2000, 3000, 4000, 5000, 6000]
    # Restart between 3100 and 3300: shorter than the gap tolerance, still never covered.
    assert live_ranges(caps, gap_ms=1500, pauses=[(3100, 3300)]) == [(2001, 3000), (5001, 6000)]


def test_live_ranges_need_two_captures() -> None:
    assert live_ranges([], gap_ms=1000) == []
    assert live_ranges([5], gap_ms=1000) == []


def test_exact_ranges_of_a_plain_l0_chain() -> None:
    # (min, max, timestamp): a snapshot-like first file then one file per capture.
    files = [(1, 1, 100), (2, 2, 200), (3, 3, 300)]
    assert exact_ranges(files) == [(101, FOREVER)]


def test_exact_ranges_with_compactions_present_still_exact() -> None:
    files = [(1, 1, 100), (2, 2, 200), (3, 3, 300), (1, 3, 300), (1, 3, 450)]  # L1 and a later L9 snapshot
    assert exact_ranges(files) == [(101, FOREVER)]


def test_pruned_l0_leaves_only_coarse_points_which_are_not_exact() -> None:
    # L0 of txids 2..9 pruned; an L1 file 2-9 created at 900 (timestamp of txid 9) remains.
    files = [(1, 1, 100), (2, 9, 900), (10, 10, 1000), (11, 11, 1100)]
    # Between 100 and 900 txids 2..8 happened at unknown times: no exact restore there.
    assert exact_ranges(files) == [(901, FOREVER)]


def test_a_chain_with_a_hole_is_not_exact_after_the_hole() -> None:
    files = [(1, 1, 100), (2, 2, 200), (4, 4, 400)]  # txid 3 missing from the replica
    assert exact_ranges(files) == [(101, 200)]


def test_nothing_before_the_first_capture() -> None:
    assert exact_ranges([]) == []
    assert exact_ranges([(1, 1, 500)])[0][0] == 501


def test_reach_at_follows_the_chain_before_t() -> None:
    files = [(1, 1, 100), (2, 2, 200), (3, 3, 300), (1, 3, 300)]
    assert reach_at(files, 100) == 0  # strictly before t
    assert reach_at(files, 101) == 1
    assert reach_at(files, 250) == 2
    assert reach_at(files, 10**12) == 3
    assert reach_at([(1, 1, 100), (3, 3, 300)], 10**12) == 1


def test_instance_ranges_need_every_existing_database_exact() -> None:
    live = [(0, 10_000)]
    admin = ((0, FOREVER), None, [(50, FOREVER)])
    # Created at 2000, first captured at 2600: (2000, 2600] is a gap for the instance.
    late = ((2000, FOREVER), None, [(2601, FOREVER)])
    assert instance_ranges(live, [admin, late]) == [(50, 1999), (2601, 10_000)]


def test_a_dropped_database_leaves_an_uncertain_window_uncovered() -> None:
    live = [(0, 10_000)]
    dropped = ((100, 5000), (5001, 5250), [(200, FOREVER)])
    assert instance_ranges(live, [dropped]) == [(0, 99), (200, 5000), (5251, 10_000)]
