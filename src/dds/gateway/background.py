"""A loop a gateway runs for its whole life beside its connections (the monitor's watch, the
replication check): started with the listener, cancelled when the gateway stops."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
