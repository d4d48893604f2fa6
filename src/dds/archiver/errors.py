"""Errors of the archiver; each carries the data a caller needs to explain it."""

from __future__ import annotations

from collections.abc import Sequence


class ArchiverError(Exception):
    """Base of every archiver error, so the service can map the family at once."""


class OutsideRestoreRanges(ArchiverError):
    """The requested time is in no covered range: restoring there would not be exact."""

    def __init__(self, at_ms: int, ranges: Sequence[tuple[int, int]]) -> None:
        self.at_ms = at_ms
        self.ranges = list(ranges)
        super().__init__(f"{at_ms} is outside every restore range {self.ranges}")


class RestoreFailed(ArchiverError):
    """`litestream restore` failed for one database."""

    def __init__(self, database: str, returncode: int, stderr: str) -> None:
        self.database = database
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"restore of database {database!r} failed ({returncode}): {stderr.strip()[-500:]}")


class SidecarFailed(ArchiverError):
    """The litestream process could not be started or kept running."""
