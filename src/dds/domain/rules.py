"""Input rules from the DDS API reference (names, passwords, ports, sizes)."""

from __future__ import annotations

import re

from dds.core.errors import InvalidLimit, InvalidName, InvalidOffset, InvalidParameter, InvalidPassword

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{3,63}$")
_SPECIALS = set("~!@#%^*-_=+?")


def check_instance_name(name: str | None) -> str:
    """4-64 characters, starts with a letter; letters, digits, hyphens, underscores."""
    if not name or not _NAME.match(name):
        raise InvalidName(
            "The instance name must be 4 to 64 characters long, start with a letter, and contain "
            "only letters, digits, hyphens (-), and underscores (_)."
        )
    return name


def check_password(password: str | None) -> str:
    """8-32 characters with at least three of: upper, lower, digit, special."""
    if not password or not 8 <= len(password) <= 32:
        raise InvalidPassword()
    if any(not (c.isascii() and (c.isalnum() or c in _SPECIALS)) for c in password):
        raise InvalidPassword()
    classes = [
        any(c.isupper() for c in password),
        any(c.islower() for c in password),
        any(c.isdigit() for c in password),
        any(c in _SPECIALS for c in password),
    ]
    if sum(classes) < 3:
        raise InvalidPassword()
    return password


def check_port(port: int | str | None) -> int | None:
    """DDS allows 2100-9500 and 27017-27019; a local host has more room, so 1024-65535."""
    if port is None or port == "":
        return None
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise InvalidParameter("The port must be an integer.") from None
    if not 1024 <= value <= 65535:
        raise InvalidParameter("The port must be between 1024 and 65535.")
    return value


def parse_int(value: int | str | None, field: str) -> int:
    try:
        if value is None:
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid {field}.") from None


def check_paging(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidOffset()
    if not 1 <= limit <= 100:
        raise InvalidLimit()
