"""Rendered answers of hot reads, kept until the metadata changes (or a second passes).

A listing is rendered once per change of `Database.generation` and served as bytes to every
reader after that. After a change the next reader renders it anew and waits for it (a client
sees its own writes); the others meanwhile keep getting the previous bytes. When only the
time-to-live ran out (live figures such as disk usage may have moved), readers get the
previous bytes at once and one background render refreshes them: readers never queue behind
each other, a writer or the engine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

_MAX_ENTRIES = 1024


@dataclass
class _Entry:
    generation: int
    rendered_at: float
    body: bytes
    refreshing: bool = False


class ReadCache:
    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[bytes]] = set()

    def _fresh(self, entry: _Entry, generation: int) -> bool:
        return entry.generation == generation and time.monotonic() - entry.rendered_at < self.ttl

    async def get(self, key: Hashable, generation: Callable[[], int], render: Callable[[], bytes]) -> bytes:
        """The rendered bytes for `key`, rendering in a worker thread when missing or stale."""
        now = generation()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (self._fresh(entry, now) or entry.refreshing):
                return entry.body
            if entry is not None:
                entry.refreshing = True  # this reader renders; the others get the previous bytes
        if entry is not None and entry.generation == now:  # only old: refresh behind the readers' backs
            self._tasks.add(task := asyncio.get_running_loop().create_task(self._render(key, now, render, entry)))
            task.add_done_callback(self._tasks.discard)
            return entry.body
        return await self._render(key, now, render, entry)

    async def _render(self, key: Hashable, seen: int, render: Callable[[], bytes], entry: _Entry | None) -> bytes:
        """`seen` is read before rendering: a change made meanwhile leaves the new entry stale."""
        try:
            body = await run_in_threadpool(render)
        except BaseException:
            if entry is not None:
                entry.refreshing = False
            raise
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _Entry(seen, time.monotonic(), body)
        return body
