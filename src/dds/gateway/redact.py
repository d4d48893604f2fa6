"""The shape of a command: its keys, with every literal value replaced by "?".

Logs must show what a slow or failing command looked like without ever holding a password,
a SCRAM payload or a filter literal. Keys stay (they are field names and operators); values
never do. Big arrays collapse to the distinct shapes of their first items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dds.gateway.wire import Request, count_documents

LITERAL = "?"
_MAX_DEPTH = 10
_MAX_ITEMS = 10
_MAX_KEYS = 100
# Driver metadata: no information about the command, and `$clusterTime` carries a signature.
_DROPPED_TOP_LEVEL = frozenset({"$db", "lsid", "$clusterTime", "$readPreference", "txnNumber", "autocommit"})


def shape(value: Any, depth: int = 0) -> Any:
    """Keys kept, literals replaced, bounded in depth and breadth."""
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return LITERAL
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= _MAX_KEYS:
                out["…"] = LITERAL
                break
            out[str(key)] = shape(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        if depth >= _MAX_DEPTH:
            return LITERAL
        items: list[Any] = []
        for item in value[:_MAX_ITEMS]:
            s = shape(item, depth + 1)
            if s not in items:
                items.append(s)
        return items
    return LITERAL


def command_shape(request: Request) -> dict[str, Any]:
    """The redacted command document, plus the size of each document sequence."""
    try:
        doc = request.body.decode()
    except Exception:  # a log line must never take the connection down
        return {"<undecodable>": LITERAL}
    out = {k: shape(v, 1) for k, v in doc.items() if k not in _DROPPED_TOP_LEVEL}
    for seq in request.sequences:
        try:
            out[seq.identifier] = f"<{count_documents(request.data, seq)} documents>"
        except Exception:
            out[seq.identifier] = "<undecodable>"
    return out
