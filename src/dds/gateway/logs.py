"""The gateway's JSON-lines logs under `log_dir`, each rotated by size.

- `slow.log`   commands whose engine round trip took at least `slow_ms`;
- `error.log`  replies with `ok: 0` (from the engine or from the gateway's own refusals);
- `audit.log`  authentication outcomes, protection refusals, user and DDL commands;
- `gateway.log` the process's own events (start, reload, protocol violations, engine trouble).

Commands appear only as redacted shapes. Writes are synchronous and unbuffered: records are
small, the OS absorbs them, and a reader (the service, a test) sees each line at once. A
failing disk never takes the gateway down; lost lines are counted instead.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3

# Commands recorded in audit.log whatever their outcome.
AUDITED_COMMANDS = frozenset(
    {
        "createUser",
        "dropUser",
        "updateUser",
        "dropAllUsersFromDatabase",
        "grantRolesToUser",
        "revokeRolesFromUser",
        "drop",
        "dropDatabase",
        "create",
        "createIndexes",
        "dropIndexes",
        "renameCollection",
        "collMod",
    }
)


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RotatingJsonLines:
    """Append-only JSON lines; `name` → `name.1` → … → `name.<backups>` when `max_bytes` is reached."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.dropped = 0  # records lost to I/O errors
        self._file: BinaryIO | None = None
        self._size = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; never raises."""
        line = (json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            if self._file is None:
                self._open()
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            assert self._file is not None
            self._file.write(line)
            self._size += len(line)
        except OSError:
            self.dropped += 1
            self.close()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open for the process's life
        self._size = self._file.tell()

    def _rotate(self) -> None:
        self.close()
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


class GatewayLogs:
    """The four log files of one gateway."""

    def __init__(self, log_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.slow = RotatingJsonLines(log_dir / "slow.log", max_bytes, backups)
        self.error = RotatingJsonLines(log_dir / "error.log", max_bytes, backups)
        self.audit = RotatingJsonLines(log_dir / "audit.log", max_bytes, backups)
        self.events = RotatingJsonLines(log_dir / "gateway.log", max_bytes, backups)
        self.audit_enabled = True  # the instance's audit policy; off: audit.log gets nothing

    def write_audit(self, record: dict[str, Any]) -> None:
        """An audit.log line, only while auditing is on."""
        if self.audit_enabled:
            self.audit.write(record)

    def event(self, event: str, **fields: Any) -> None:
        """A line in gateway.log about the process itself."""
        self.events.write({"time": utc_now(), "event": event, **fields})

    def close(self) -> None:
        for log in (self.slow, self.error, self.audit, self.events):
            log.close()
