"""Per-key locks: jobs and the supervisor take an instance's lock before touching its processes."""

from __future__ import annotations

import threading
from collections import defaultdict


class KeyedLocks:
    """One re-entrant lock per key, created on first use."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._guard = threading.Lock()

    def of(self, key: str) -> threading.RLock:
        with self._guard:
            return self._locks[key]


class Wakeup:
    """Set after a commit that enqueued a job, so an idle worker starts it at once."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()
