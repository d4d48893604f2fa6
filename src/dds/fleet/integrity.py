"""A node's data is checked before an engine is started on it, so that lost or damaged data is
never served as a healthy, empty database.

Each node directory carries an identity (`identity.json`: instance, node, incarnation), written
once when the node's engine first starts and recorded in the instance's metadata. Before any
engine start the node must show that identity, an `admin` database (every instance has one: its
users live there), database files whose size agrees with their own headers, and SQLite's
`PRAGMA quick_check` on every file. A node that fails is not started: `fault` names why.
SQLite keeps no page checksums, so a flipped byte inside a document's payload can pass
quick_check; damage to the file's structure (headers, b-tree pages, truncation) does not.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from dds.core.errors import InternalError
from dds.db.models import Instance, Node
from dds.fleet import layout
from dds.gateway.logs import RotatingJsonLines, utc_now
from dds.parts import Parts

IDENTITY = "identity.json"
ADMIN = "admin.sqlite"
_HEADER = b"SQLite format 3\x00"


class DataFault(InternalError):
    """A node's data is missing or damaged: its engine must not be started on it."""

    def __init__(self, reason: str = "it did not pass the checks", node_name: str = "") -> None:
        super().__init__(f"The data of node {node_name} is missing or damaged: {reason}")
        self.reason = reason


def identity_path(parts: Parts, node: Node) -> Path:
    return layout.node_dir(parts.settings, node) / IDENTITY


def recorded(inst: Instance, node: Node) -> str | None:
    """The incarnation the metadata expects of the node's data (None: never stamped)."""
    value = (inst.extra.get("incarnations") or {}).get(node.id)
    return str(value) if value else None


def stamp(parts: Parts, inst: Instance, node: Node) -> str:
    """Give the node's data a new identity (its first start, or a rebuild from backups); the
    caller's transaction records it."""
    incarnation = uuid.uuid4().hex
    path = identity_path(parts, node)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"instance_id": inst.id, "node_id": node.id, "incarnation": incarnation}))
    tmp.replace(path)
    inst.extra = {**inst.extra, "incarnations": {**(inst.extra.get("incarnations") or {}), node.id: incarnation}}
    return incarnation


def _identity(parts: Parts, inst: Instance, node: Node) -> str | None:
    """Why the identity file does not name this node's data, or None when it does."""
    path = identity_path(parts, node)
    if not layout.node_dir(parts.settings, node).is_dir():
        return f"the node directory {layout.node_dir(parts.settings, node)} is missing"
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return f"its identity file {path} is missing"
    except (OSError, ValueError) as exc:
        return f"its identity file {path} cannot be read: {exc}"
    expected = {"instance_id": inst.id, "node_id": node.id, "incarnation": recorded(inst, node)}
    for key, value in expected.items():
        if found.get(key) != value:
            return f"its identity file names another {key.replace('_', ' ')} ({found.get(key)!r}, expected {value!r})"
    return None


def _files(data: Path) -> tuple[list[Path], str | None]:
    try:
        if not data.is_dir():
            return [], f"its data directory {data} is missing"
        files = sorted(p for p in data.iterdir() if p.suffix == ".sqlite")
    except OSError as exc:
        return [], f"its data directory {data} cannot be read: {exc}"
    if not any(f.name == ADMIN for f in files):
        return files, f"the engine's files are gone from {data} (no {ADMIN})"
    return files, None


def _file_fault(path: Path) -> str | None:
    """Truncation (the file shorter than its header says) and SQLite's own structural check."""
    try:
        with path.open("rb") as f:
            header = f.read(100)
        size = path.stat().st_size
    except OSError as exc:
        return f"{path.name} cannot be read: {exc}"
    if size == 0 and path.name != ADMIN:
        return None  # created and not yet checkpointed: its pages are in the WAL
    if len(header) < 100 or not header.startswith(_HEADER):
        return f"{path.name} is not an SQLite database (damaged or truncated header)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the in-header page count is trusted only then
    if valid and size < pages * page_size:
        return f"{path.name} is truncated ({size} bytes, its header says {pages * page_size})"
    try:
        uri = f"file:{path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        return f"{path.name} is damaged: {exc}"
    if rows != ["ok"]:
        return f"{path.name} is damaged: {'; '.join(rows)}"
    return None


def fault(parts: Parts, inst: Instance, node: Node, *, deep: bool = True) -> str | None:
    """Why the node's data must not be served, or None. `deep` adds the per-file checks (header
    sizes and quick_check: a read of every page), which run before every engine start; without
    it the check is a few stats, cheap enough for every supervisor tick."""
    reason = _identity(parts, inst, node)
    if reason:
        return reason
    files, reason = _files(layout.data_dir(parts.settings, node))
    if reason or not deep:
        return reason
    for path in files:
        reason = _file_fault(path)
        if reason:
            return reason
    return None


def adoptable(parts: Parts, inst: Instance, node: Node) -> bool:
    """A node made before identities existed (or whose first start was interrupted before its
    stamp): its files pass every check but the identity one."""
    if recorded(inst, node) is not None or identity_path(parts, node).exists():
        return False
    files, reason = _files(layout.data_dir(parts.settings, node))
    return reason is None and not any(_file_fault(p) for p in files)


def verify(parts: Parts, inst: Instance, node: Node) -> None:
    """Raise DataFault unless the node's data is whole (stamping a node made by an earlier release)."""
    if adoptable(parts, inst, node):
        stamp(parts, inst, node)
        return
    reason = fault(parts, inst, node)
    if reason:
        raise DataFault(reason, node.name)


def known_fault(inst: Instance, node: Node) -> dict[str, Any] | None:
    """The fault recorded for the node (its reason, when found, the recovery started), if any."""
    found = (inst.extra.get("data_faults") or {}).get(node.id)
    return dict(found) if found else None


def record_fault(inst: Instance, node: Node, reason: str, found_ms: int, **more: Any) -> None:
    faults = dict(inst.extra.get("data_faults") or {})
    faults[node.id] = {**(faults.get(node.id) or {"found_ms": found_ms}), "reason": reason, **more}
    inst.extra = {**inst.extra, "data_faults": faults}


def clear_faults(inst: Instance) -> None:
    inst.extra = {k: v for k, v in inst.extra.items() if k != "data_faults"}


def note(parts: Parts, node: Node, message: str) -> None:
    """A line in the node's error log (the DDS error-log API shows it): what was found, what was
    recovered and up to when, what could not be."""
    out = RotatingJsonLines(layout.node_dir(parts.settings, node) / "logs" / "error.log")
    out.write({"time": utc_now(), "source": "service", "message": message})
    out.close()
