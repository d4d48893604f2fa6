"""Background loops of the service (supervisor, scheduler): one thread each, stoppable."""

from __future__ import annotations

import logging
import threading

from dds.parts import Parts

log = logging.getLogger(__name__)


class Periodic:
    """Calls `tick()` every `interval()` seconds on a daemon thread until `stop()`.

    A failing tick is logged and the loop goes on: one bad instance must not stop the
    supervision or the backups of all the others."""

    name = "dds-periodic"

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def interval(self) -> float:
        raise NotImplementedError

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval()):
            try:
                self.tick()
            except Exception:
                log.exception("%s tick failed", self.name)
