"""Backup policy fields as DDS writes them: keep_days, `hh:mm-hh:mm` windows, periods."""

from __future__ import annotations

import re
from typing import Any

from dds.core.errors import InvalidBackupPeriod, InvalidBackupStartTime, InvalidRetention

_WINDOW = re.compile(r"^([01]\d|2[0-3]):(00|15|30|45)-([01]\d|2[0-3]):(00|15|30|45)$")


def parse_keep_days(value: Any) -> int:
    """0 turns automated backups off; otherwise 1-732 days."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise InvalidRetention("Invalid retention period: keep_days is 0-732.") from None
    if not 0 <= days <= 732:
        raise InvalidRetention("Invalid retention period: keep_days is 0-732.")
    return days


def parse_window(value: str) -> str:
    """`hh:mm-HH:MM` in UTC: one hour long, minutes 00/15/30/45 and equal, as DDS requires."""
    m = _WINDOW.match(str(value))
    if not m or (int(m.group(1)) + 1) % 24 != int(m.group(3)) or m.group(2) != m.group(4):
        raise InvalidBackupStartTime(
            "Invalid backup start time: a one-hour window hh:mm-HH:MM (UTC), HH = hh + 1, mm = MM."
        )
    return str(value)


def parse_period(value: Any) -> str:
    """Days of the week `1`..`7` (Monday=1), comma separated, no repeats."""
    parts = [p.strip() for p in str(value or "").split(",") if p.strip()]
    if not parts or any(p not in "1234567" or len(p) != 1 for p in parts) or len(set(parts)) != len(parts):
        raise InvalidBackupPeriod("Invalid backup period: days of the week 1-7, comma separated.")
    return ",".join(sorted(parts))
