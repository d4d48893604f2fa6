"""`fsync`, answered by the gateway: the engine has no such command (CommandNotFound).

Every write is on disk when acknowledged (SQLite in WAL mode with `synchronous` FULL, PostgreSQL
committing with `synchronous_commit` at least `local`), so there is nothing left to flush and
the answer is MongoDB's. `lock: true` (blocking writes until `fsyncUnlock`, for file-level
backups) is refused: the service's own backups do not need it, and a lock the engine does not
hold would promise what it cannot keep.
"""

from __future__ import annotations

from typing import Any

from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.fields import Fields


def fsync_reply(body: Fields) -> dict[str, Any]:
    lock = body.get("lock")
    if lock not in (None, False, 0):
        message = "fsync with lock is not supported: writes are on disk when acknowledged"
        raise Refusal(ErrorCode.NotImplemented, message)
    return {"numFiles": 1, "ok": 1.0}
