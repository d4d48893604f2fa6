"""Tag rules of the DDS reference (TMS-style tags): what a key and a value may be, how many."""

from __future__ import annotations

import re
from typing import Any

from dds.core.errors import InvalidParameter

MAX_TAGS = 20
_KEY = re.compile(r"^[\w .:=+\-@]{1,128}$", re.UNICODE)
_VALUE = re.compile(r"^[\w .:=+\-@/]{0,255}$", re.UNICODE)


def check_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.match(key) or key != key.strip() or key.startswith("_sys_"):
        raise InvalidParameter(
            "A tag key must be 1 to 128 letters, digits, spaces or _ . : = + - @, not start or end with a space, "
            "and not start with _sys_."
        )
    return key


def check_value(value: object) -> str:
    text = "" if value is None else value
    if not isinstance(text, str) or not _VALUE.match(text) or text != text.strip():
        raise InvalidParameter(
            "A tag value must be at most 255 letters, digits, spaces or _ . : = + - @ /, "
            "and not start or end with a space."
        )
    return text


def merged(current: list[dict[str, str]], added: dict[str, str]) -> list[dict[str, str]]:
    """Tags after a batch create: a key given again takes the new value; at most MAX_TAGS keys."""
    out = {t["key"]: t.get("value", "") for t in current}
    out.update(added)
    if len(out) > MAX_TAGS:
        raise InvalidParameter(f"An instance can have at most {MAX_TAGS} tags.")
    return [{"key": k, "value": v} for k, v in out.items()]


def from_request(items: list[Any] | None) -> list[dict[str, str]]:
    """Tags given at create time: the same rules as a batch create."""
    given: dict[str, str] = {}
    for item in items or []:
        data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
        given[check_key(data.get("key"))] = check_value(data.get("value"))
    return merged([], given)
