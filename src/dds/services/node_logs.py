"""What the nodes' gateways recorded: slow and error logs, connections, operations in flight.

Each gateway writes JSON lines under its node's `logs/` (rotated by size: `slow.log`,
`slow.log.1`, ...) and a `stats.json` snapshot at most once a second; the service reads them,
so these reads never touch the engine and work while it is busy.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dds.core.errors import InvalidParameter, NotFound
from dds.db.models import Instance, Node
from dds.domain.rules import check_paging
from dds.fleet import gateways
from dds.parts import Parts
from dds.services import instances

# DDS statement types of slow log entries, from the MongoDB command names.
_TYPES = {
    "insert": "INSERT",
    "update": "UPDATE",
    "delete": "REMOVE",
    "find": "QUERY",
    "aggregate": "QUERY",
    "count": "QUERY",
    "distinct": "QUERY",
    "getMore": "GETMORE",
    "findAndModify": "FINDANDMODIFY",
}


def statement_type(command: str) -> str:
    return _TYPES.get(command, "COMMAND")


@dataclass(frozen=True)
class LogQuery:
    start_date: str | None = None
    end_date: str | None = None
    node_id: str | None = None
    type: str | None = None
    offset: int = 0
    limit: int = 10


def _time(value: str | None, field: str) -> datetime | None:
    """DDS sends `yyyy-mm-ddThh:mm:ss+0800` (or `Z`); ISO 8601 forms are taken too."""
    if not value:
        return None
    text = value.strip().replace("Z", "+0000")
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    raise InvalidParameter(f"Invalid {field}: expected yyyy-mm-ddThh:mm:ss+0000.")


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of a log and its rotated predecessors, newest file first."""
    files = sorted(
        path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0
    )
    for f in [path, *reversed(files)]:
        try:
            lines = f.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _nodes(parts: Parts, project_id: str, instance_id: str, node_id: str | None) -> list[tuple[Node, Path]]:
    with parts.db.session() as s:
        inst: Instance = instances.get(s, project_id, instance_id)
        chosen = [n for n in inst.nodes if node_id in (None, "", n.id)]
        if node_id and not chosen:
            raise NotFound(f"The node {node_id} does not belong to the instance.")
        return [(n, gateways.log_dir(parts, n)) for n in chosen]


def _window(q: LogQuery) -> tuple[datetime | None, datetime | None]:
    check_paging(q.offset, q.limit)
    start, end = _time(q.start_date, "start_date"), _time(q.end_date, "end_date")
    if start and end and start > end:
        raise InvalidParameter("start_date must not be after end_date.")
    return start, end


def _inside(record: dict[str, Any], start: datetime | None, end: datetime | None) -> bool:
    try:
        at = datetime.strptime(record["time"].replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    except (KeyError, ValueError, AttributeError):
        return False
    return (start is None or at >= start) and (end is None or at <= end)


def slow_logs(parts: Parts, project_id: str, instance_id: str, q: LogQuery) -> tuple[list[dict[str, Any]], int]:
    start, end = _window(q)
    rows = []
    for node, logs in _nodes(parts, project_id, instance_id, q.node_id):
        for r in _records(logs / "slow.log"):
            kind = statement_type(str(r.get("command", "")))
            if not _inside(r, start, end) or (q.type and q.type.upper() != kind):
                continue
            rows.append(
                {
                    "node_name": node.name,
                    "query_sample": json.dumps(r.get("shape", {}), separators=(",", ":")),
                    "type": kind,
                    "time": f"{float(r.get('duration_ms', 0)):.0f} ms",
                    "lock_time": "0 ms",
                    "rows_sent": "0",
                    "rows_examined": "0",
                    "database": str(r.get("db") or ""),
                    "start_time": r["time"],
                }
            )
    rows.sort(key=lambda r: r["start_time"], reverse=True)
    return rows[q.offset : q.offset + q.limit], len(rows)


def error_logs(parts: Parts, project_id: str, instance_id: str, q: LogQuery) -> tuple[list[dict[str, Any]], int]:
    start, end = _window(q)
    rows = []
    for node, logs in _nodes(parts, project_id, instance_id, q.node_id):
        for r in _records(logs / "error.log"):
            level = "Warning" if r.get("refused") else "Error"
            if not _inside(r, start, end) or (q.type and q.type.lower() != level.lower()):
                continue
            content = {k: r[k] for k in ("command", "ns", "code", "codeName", "errmsg", "client", "user") if k in r}
            rows.append(
                {
                    "node_name": node.name,
                    "level": level,
                    "time": r["time"],
                    "content": json.dumps(content, separators=(",", ":")),
                }
            )
    rows.sort(key=lambda r: r["time"], reverse=True)
    return rows[q.offset : q.offset + q.limit], len(rows)


def _stats(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((path / "stats.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def connection_statistics(parts: Parts, project_id: str, instance_id: str, node_id: str | None) -> dict[str, Any]:
    """Client connections per source address; the service's own go straight to the engine and are
    not client connections (inner connections: none)."""
    per_ip: dict[str, int] = {}
    for _, logs in _nodes(parts, project_id, instance_id, node_id):
        for ip, count in (_stats(logs).get("connections", {}).get("per_ip") or {}).items():
            per_ip[ip] = per_ip.get(ip, 0) + int(count)
    outer = [{"client_ip": ip, "count": n} for ip, n in sorted(per_ip.items())]
    total = sum(per_ip.values())
    return {
        "total_connections": total,
        "total_inner_connections": 0,
        "total_outer_connections": total,
        "inner_connections": [],
        "outer_connections": outer,
    }


def sessions(
    parts: Parts, project_id: str, node_id: str, offset: int, limit: int, cost_time: int | None, namespace: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Operations in flight on the node, as its gateway last saw them (at most a second old)."""
    check_paging(offset, limit)
    with parts.db.session() as s:
        node = s.get(Node, node_id)
        if node is None or node.instance.project_id != project_id:
            raise NotFound(f"The node {node_id} does not exist.")
        logs = gateways.log_dir(parts, node)
    rows = []
    for op in _stats(logs).get("inprog", []):
        running_ms = float(op.get("running_ms", 0))
        if cost_time is not None and running_ms < cost_time * 1000:
            continue
        if namespace and op.get("namespace") != namespace:
            continue
        ns = op.get("namespace") or ""
        rows.append(
            {
                "id": str(op.get("id")),
                "active": True,
                "operation": statement_type(str(op.get("command"))).lower(),
                "type": "op",
                "cost_time": str(int(running_ms // 1000)),
                "plan_summary": "",
                "host": node.host + ":" + str(node.port),
                "client": str(op.get("client") or ""),
                "description": str(op.get("command") or ""),
                "namespace": ns,
                "db": ns.split(".", 1)[0],
                "user": str(op.get("user") or ""),
            }
        )
    return rows[offset : offset + limit], len(rows)


def kill_sessions(parts: Parts, project_id: str, node_id: str, session_ids: list[str] | None) -> None:
    """Close the client connections whose operations are named (ids from `sessions`): the node's
    gateway closes them and their engine connections, so the operations and cursors end."""
    if not session_ids:
        raise InvalidParameter("sessions is required.")
    with parts.db.session() as s:
        node = s.get(Node, node_id)
        if node is None or node.instance.project_id != project_id:
            raise NotFound(f"The node {node_id} does not exist.")
        logs, pid = gateways.log_dir(parts, node), gateways.gateway_pid(parts, node)
    wanted = {str(i) for i in session_ids}
    connections = sorted(
        {int(op["connection_id"]) for op in _stats(logs).get("inprog", []) if str(op.get("id")) in wanted}
    )
    if not connections or pid is None:
        raise InvalidParameter("None of the sessions is running on the node.")
    partial = logs / "kill.json.partial"
    partial.write_text(json.dumps({"connections": connections}), encoding="utf-8")
    partial.rename(logs / "kill.json")
    os.kill(pid, signal.SIGUSR1)
