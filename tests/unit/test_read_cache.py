"""The read cache: a reader sees every change made before its request; TTL refreshes never make a reader wait."""

from __future__ import annotations

import asyncio
import threading
import time

from dds.api.cache import ReadCache


def test_a_change_is_seen_by_the_next_reader_and_renders_once() -> None:
    generation = {"n": 0}
    renders: list[int] = []

    def render() -> bytes:
        renders.append(generation["n"])
        return str(generation["n"]).encode()

    async def scenario() -> None:
        cache = ReadCache(ttl=60)
        get = lambda: cache.get("k", lambda: generation["n"], render)  # noqa: E731
        assert await get() == b"0"
        assert await get() == b"0"
        generation["n"] = 1  # a commit
        assert await get() == b"1"
        assert renders == [0, 1]

    asyncio.run(scenario())


def test_an_expired_entry_is_served_at_once_and_refreshed_behind() -> None:
    gate = threading.Event()
    calls = {"n": 0}

    def render() -> bytes:
        calls["n"] += 1
        if calls["n"] > 1:
            gate.wait(5)  # a slow refresh
        return f"v{calls['n']}".encode()

    async def scenario() -> None:
        cache = ReadCache(ttl=0.05)
        get = lambda: cache.get("k", lambda: 7, render)  # noqa: E731
        assert await get() == b"v1"
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        assert await get() == b"v1"  # stale bytes at once while v2 renders
        assert await get() == b"v1"
        assert time.monotonic() - t0 < 0.5
        gate.set()
        for _ in range(100):
            if await get() == b"v2":
                break
            await asyncio.sleep(0.02)
        assert await get() == b"v2" and calls["n"] == 2  # one refresh, not one per reader

    asyncio.run(scenario())


def test_the_generation_moves_with_real_changes_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dds.db.models import Project
    from dds.db.session import Database

    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    db.migrate()
    from datetime import datetime

    start = db.generation
    with db.session() as s:
        s.add(Project(id="p1", name="one", created=datetime(2026, 1, 1)))
    assert db.generation == start + 1
    with db.session() as s:
        row = s.get(Project, "p1")
        assert row is not None
        row.name = "one"  # the value it had: no change
    assert db.generation == start + 1
    with db.session() as s:
        s.get(Project, "p1").name = "two"  # type: ignore[union-attr]
    assert db.generation == start + 2
    db.dispose()
