"""Time source. Injectable so tests can move time (link expiry, retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock in UTC, naive datetimes (as the metadata store keeps them)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Move this clock forward (tests, and the `/debug/clock` hook when enabled)."""
        self.offset += delta


def iso(ts: datetime | None) -> str:
    """DDS timestamps: `yyyy-mm-ddThh:mm:ss` in UTC."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S") if ts else ""


def iso_z(ts: datetime | None) -> str:
    """DDS timestamps with an explicit UTC offset: `yyyy-mm-ddThh:mm:ss+0000`."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S+0000") if ts else ""
