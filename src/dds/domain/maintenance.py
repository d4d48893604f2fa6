"""The maintenance window: `HH:MM-HH:MM` in UTC, on the hour, as DDS sets it; when it next opens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dds.core.errors import InvalidParameter

DEFAULT_WINDOW = "02:00-06:00"
_TIME = re.compile(r"^([01]\d|2[0-3]):00$")


def check_window(start: str | None, end: str | None) -> str:
    """DDS: both on the hour, 1 to 4 hours apart (the window may cross midnight)."""
    if not start or not end or not _TIME.match(start) or not _TIME.match(end):
        raise InvalidParameter("start_time and end_time must be whole hours HH:00 (UTC).")
    hours = (int(end[:2]) - int(start[:2])) % 24
    if not 1 <= hours <= 4:
        raise InvalidParameter("The maintenance window must last 1 to 4 hours.")
    return f"{start}-{end}"


def bounds(window: str, now: datetime) -> tuple[datetime, datetime]:
    """The window that is open at `now`, or else the next one to open."""
    start_s, end_s = window.split("-", 1)
    hours = (int(end_s[:2]) - int(start_s[:2])) % 24
    today = now.replace(hour=int(start_s[:2]), minute=0, second=0, microsecond=0)
    for start in (today - timedelta(days=1), today, today + timedelta(days=1)):
        end = start + timedelta(hours=hours)
        if now < end:
            return start, end
    raise AssertionError("unreachable: a window opens every day")
