"""Log information: slow query, error and audit logs of an instance's nodes, written by their gateways.

Each node's gateway writes JSON lines under `<node_dir>/logs/` (rotated by size: `slow.log`,
`slow.log.1`, …); this module reads, filters and pages them, and hands out signed, expiring
links to the files. Commands appear only as redacted shapes (no literal values, no passwords).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from dds.core.errors import InvalidParameter, LinkRefused, NotFound
from dds.db.gateway import ConnectionPolicy
from dds.db.models import Instance, Node
from dds.domain.rules import check_paging
from dds.fleet import gateways
from dds.gateway.rules import operation_type
from dds.parts import Parts
from dds.services.instances import get as get_instance
from dds.store import links
from dds.wire import models as w

LOG_FILES = {"slow": "slow.log", "error": "error.log", "audit": "audit.log"}
ROTATED = 3  # the gateway keeps name, name.1 … name.3
SLOW_TYPES = ("INSERT", "QUERY", "UPDATE", "REMOVE", "GETMORE", "COMMAND", "KILLCURSORS")
ERROR_LEVELS = ("ALL", "INFO", "LOG", "WARNING", "ERROR", "FATAL", "PANIC", "NOTE")
AUDIT_TYPES = ("auth", "insert", "delete", "update", "query", "command")
MAX_RECORDS = 2000  # DDS: at most 2000 records in one query window


def parse_time(value: str | None, name: str) -> datetime | None:
    """DDS times: `2018-08-06T10:41:14+0800` (or `Z`, or with milliseconds); naive UTC out."""
    if value is None or value == "":
        return None
    text = value.strip().replace("Z", "+0000").replace(" ", "+")  # a `+` in a query string arrives as space
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            continue
    raise InvalidParameter(f"Invalid {name} {value!r}: expected yyyy-mm-ddThh:mm:ssZ, e.g. 2018-08-06T10:41:14+0800.")


def _record_time(record: dict[str, Any]) -> datetime | None:
    raw = record.get("time")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None


def node_files(parts: Parts, node: Node, kind: str) -> list[Path]:
    """The node's files of one log, newest first (`slow.log`, `slow.log.1`, …), those that exist."""
    base = gateways.log_dir(parts, node) / LOG_FILES[kind]
    candidates = [base, *(base.with_name(f"{base.name}.{i}") for i in range(1, ROTATED + 1))]
    return [p for p in candidates if p.exists()]


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by rotation or a full disk
        if isinstance(record, dict):
            yield record


def _nodes(inst: Instance, node_id: str | None) -> list[Node]:
    if not node_id:
        return list(inst.nodes)
    chosen = [n for n in inst.nodes if n.id == node_id]
    if not chosen:
        raise InvalidParameter(f"Node {node_id!r} is not a node of this instance.")
    return chosen


@dataclass
class LogQuery:
    """Query string of the slow and error log listings."""

    start_date: str | None = None
    end_date: str | None = None
    node_id: str | None = None
    type: str | None = None
    keywords: str | None = None
    offset: int = 0
    limit: int = 10


def _window(q: LogQuery) -> tuple[datetime, datetime]:
    start, end = parse_time(q.start_date, "start_date"), parse_time(q.end_date, "end_date")
    if start is None or end is None:
        raise InvalidParameter("start_date and end_date are required.")
    if start > end:
        raise InvalidParameter("start_date must not be later than end_date.")
    check_paging(q.offset, q.limit)
    return start, end


def _collect(
    parts: Parts, inst: Instance, q: LogQuery, kind: str, start: datetime, end: datetime
) -> list[tuple[Node, dict[str, Any]]]:
    found: list[tuple[datetime, Node, dict[str, Any]]] = []
    for node in _nodes(inst, q.node_id):
        for path in node_files(parts, node, kind):
            for record in _records(path):
                at = _record_time(record)
                if at is not None and start <= at <= end:
                    found.append((at, node, record))
    found.sort(key=lambda item: item[0], reverse=True)  # newest first
    return [(node, record) for _, node, record in found[:MAX_RECORDS]]


def _keywords_match(record: dict[str, Any], keywords: str | None) -> bool:
    if not keywords:
        return True
    text = json.dumps(record, default=str).lower()
    return all(word.lower() in text for word in keywords.split())


def slow_logs(parts: Parts, project_id: str, instance_id: str, q: LogQuery) -> w.ListSlowLogsResponse:
    start, end = _window(q)
    kind = (q.type or "").upper()
    if kind and kind not in (*SLOW_TYPES, "ALL"):
        raise InvalidParameter(f"Invalid type {q.type!r}. Valid values: {', '.join(SLOW_TYPES)}.")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        rows = _collect(parts, inst, q, "slow", start, end)
    items = []
    for node, r in rows:
        statement = operation_type(str(r.get("command", ""))).upper()
        if r.get("command") == "killCursors":
            statement = "KILLCURSORS"
        if kind not in ("", "ALL") and statement != kind:
            continue
        if not _keywords_match(r, q.keywords):
            continue
        items.append(
            w.SlowlogResult(
                node_name=node.name,
                query_sample=json.dumps({"ns": r.get("ns"), "command": r.get("shape")}, ensure_ascii=False),
                type=statement,
                time=f"{r.get('duration_ms', 0)} ms",
                lock_time="0 ms",
                rows_sent="0",
                rows_examined="0",
                database=str(r.get("db") or ""),
                start_time=str(r.get("time")),
            )
        )
    return w.ListSlowLogsResponse(slow_log_list=items[q.offset : q.offset + q.limit], total_record=len(items))


def error_logs(parts: Parts, project_id: str, instance_id: str, q: LogQuery) -> w.ListErrorLogsResponse:
    start, end = _window(q)
    level = (q.type or "ALL").upper()
    if level not in ERROR_LEVELS:
        raise InvalidParameter(f"Invalid type {q.type!r}. Valid values: {', '.join(ERROR_LEVELS)}.")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        rows = _collect(parts, inst, q, "error", start, end)
    items = [
        w.ErrorlogResult(
            node_name=node.name,
            level="ERROR",
            time=str(r.get("time")),
            content=str(r["message"])  # the service's own word (a node's data lost, recovered)
            if r.get("message")
            else (
                f"{r.get('command')} on {r.get('ns') or r.get('db')} from {r.get('client')} failed: "
                f"{r.get('codeName')} ({r.get('code')}): {r.get('errmsg')}"
            ),
        )
        for node, r in rows
        if level in ("ALL", "ERROR") and _keywords_match(r, q.keywords)
    ]
    return w.ListErrorLogsResponse(error_log_list=items[q.offset : q.offset + q.limit], total_record=len(items))


# --- files and signed links -------------------------------------------------------------------


def _link_key(instance_id: str, node_id: str) -> str:
    """What the HMAC covers besides project and file name; `log:` keeps these apart from backup links."""
    return f"log:{instance_id}:{node_id}"


def file_link(parts: Parts, project_id: str, instance_id: str, node_id: str, name: str) -> tuple[str, datetime]:
    expires = parts.clock.now() + timedelta(seconds=parts.settings.link_ttl_seconds)
    secret = links.load_secret(parts.settings.link_secret, parts.settings.data_dir)
    exp = links.epoch(expires)
    sig = links.signature(secret, project_id, _link_key(instance_id, node_id), name, exp)
    url = (
        f"{parts.settings.base_url}/log-files/{quote(project_id)}/{quote(instance_id)}/{quote(node_id)}/"
        f"{quote(name)}?expires={exp}&signature={sig}"
    )
    return url, expires


def open_file(parts: Parts, project_id: str, instance_id: str, node_id: str, name: str, expires: str, sig: str) -> Path:
    """The log file a signed link names (403 if the link is not intact or expired, 404 if gone)."""
    secret = links.load_secret(parts.settings.link_secret, parts.settings.data_dir)
    links.check(secret, project_id, _link_key(instance_id, node_id), name, expires, sig, parts.clock.now())
    allowed = {f"{base}{suffix}" for base in LOG_FILES.values() for suffix in ("", *(f".{i}" for i in range(1, 4)))}
    if name not in allowed:
        raise LinkRefused()
    with parts.db.session() as s:
        node = s.get(Node, node_id)
        if node is None or node.instance_id != instance_id:
            raise NotFound("The log file does not exist.")
        path = gateways.log_dir(parts, node) / name
    if not path.exists():
        raise NotFound("The log file does not exist.")
    return path


def _download(
    parts: Parts, project_id: str, instance_id: str, kind: str, body: w.DownloadSlowlogRequestBody | None
) -> list[w.DownloadSlowlogResult]:
    wanted_nodes = set(body.node_id_list or []) if body else set()
    wanted_files = set(body.file_name_list or []) if body else set()
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        unknown = wanted_nodes - {n.id for n in inst.nodes}
        if unknown:
            raise InvalidParameter(f"Not nodes of this instance: {', '.join(sorted(unknown))}.")
        nodes = [n for n in inst.nodes if not wanted_nodes or n.id in wanted_nodes]
        out = []
        for node in nodes:
            for path in node_files(parts, node, kind):
                if wanted_files and path.name not in wanted_files:
                    continue
                stat = path.stat()
                url, _ = file_link(parts, project_id, inst.id, node.id, path.name)
                out.append(
                    w.DownloadSlowlogResult(
                        node_name=node.name,
                        file_name=path.name,
                        file_size=str(stat.st_size),
                        file_link=url,
                        status="SUCCESS",
                        update_at=int(stat.st_mtime * 1000),
                    )
                )
    return out


def download_slow(
    parts: Parts, project_id: str, instance_id: str, body: w.DownloadSlowlogRequestBody | None
) -> w.DownloadSlowlogResponse:
    items = _download(parts, project_id, instance_id, "slow", body)
    return w.DownloadSlowlogResponse(status="FINISH", count=len(items), list=items)


def download_error(
    parts: Parts, project_id: str, instance_id: str, body: w.DownloadErrorlogRequestBody | None
) -> w.DownloadErrorlogResponse:
    converted = w.DownloadSlowlogRequestBody(**body.model_dump()) if body else None
    items = _download(parts, project_id, instance_id, "error", converted)
    return w.DownloadErrorlogResponse(status="FINISH", count=len(items), list=items)


# --- audit log --------------------------------------------------------------------------------


def _policy(s: Session, instance_id: str) -> ConnectionPolicy:
    row = s.get(ConnectionPolicy, instance_id)
    if row is None:
        row = ConnectionPolicy(instance_id=instance_id, audit_keep_days=0, audit_types=[], client_networks=[])
        s.add(row)
    return row


def show_audit_policy(parts: Parts, project_id: str, instance_id: str) -> w.ShowAuditlogPolicyResponse:
    with parts.db.session() as s:
        get_instance(s, project_id, instance_id)
        row = s.get(ConnectionPolicy, instance_id)
        if row is None or row.audit_keep_days == 0:
            return w.ShowAuditlogPolicyResponse(keep_days=0)
        return w.ShowAuditlogPolicyResponse(
            keep_days=row.audit_keep_days, audit_scope=row.audit_scope, audit_types=list(row.audit_types)
        )


def set_audit_policy(parts: Parts, project_id: str, instance_id: str, body: w.SetAuditlogPolicyRequestBody) -> None:
    """keep_days 0 turns auditing off (DDS: 7–732 days while on); the gateways follow at once."""
    keep = body.keep_days
    if keep is None or not (keep == 0 or 7 <= keep <= 732):
        raise InvalidParameter("keep_days must be 0 (off) or 7 to 732.")
    types = list(body.audit_types or [])
    bad = [t for t in types if t not in AUDIT_TYPES]
    if bad:
        raise InvalidParameter(f"Invalid audit_types {bad}. Valid values: {', '.join(AUDIT_TYPES)}.")
    scope = body.audit_scope or "all"
    if len(scope) > 1024:
        raise InvalidParameter("audit_scope is too long.")
    reserve = body.reserve_auditlogs
    if reserve is not None and reserve not in ("true", "false"):
        raise InvalidParameter("reserve_auditlogs must be true or false.")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        row = _policy(s, inst.id)
        row.audit_keep_days = keep
        row.audit_types = types
        row.audit_scope = scope
        nodes = list(inst.nodes)
    if keep == 0 and reserve == "false":
        for node in nodes:
            for path in node_files(parts, node, "audit"):
                path.unlink(missing_ok=True)
    with parts.db.session() as s:
        gateways.reload_gateways(parts, get_instance(s, project_id, instance_id))


def _audit_id(node: Node, path: Path) -> str:
    return f"{node.id}_{path.name}"


def _audit_files(parts: Parts, inst: Instance, node_id: str | None) -> list[tuple[Node, Path]]:
    return [(node, path) for node in _nodes(inst, node_id) for path in node_files(parts, node, "audit")]


def _first_last(path: Path) -> tuple[str, str]:
    times = [r["time"] for r in _records(path) if isinstance(r.get("time"), str)]
    return (times[0], times[-1]) if times else ("", "")


@dataclass
class AuditQuery:
    start_time: str | None = None
    end_time: str | None = None
    node_id: str | None = None
    offset: int = 0
    limit: int = 10


def list_audit_logs(parts: Parts, project_id: str, instance_id: str, q: AuditQuery) -> w.ListAuditlogsResponse:
    start, end = parse_time(q.start_time, "start_time"), parse_time(q.end_time, "end_time")
    check_paging(q.offset, q.limit)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        files = _audit_files(parts, inst, q.node_id)
    items = []
    for node, path in files:
        first, last = _first_last(path)
        if not first:
            continue
        t0, t1 = parse_time(first, "time"), parse_time(last, "time")
        if (start and t1 and t1 < start) or (end and t0 and t0 > end):
            continue
        items.append(
            w.ListAuditlogsResult(
                id=_audit_id(node, path),
                name=_audit_id(node, path),
                node_id=node.id,
                size=path.stat().st_size,
                start_time=first,
                end_time=last,
            )
        )
    return w.ListAuditlogsResponse(
        audit_logs=items[q.offset : q.offset + q.limit],
        total_record=len(items),
        total_size=sum(i.size or 0 for i in items),
    )


def audit_links(parts: Parts, project_id: str, instance_id: str, ids: list[str] | None) -> w.ListAuditlogLinksResponse:
    if not ids or len(ids) > 10:
        raise InvalidParameter("ids must name 1 to 10 audit log files.")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        files = {_audit_id(node, path): (node, path) for node, path in _audit_files(parts, inst, None)}
        missing = [i for i in ids if i not in files]
        if missing:
            raise InvalidParameter(f"No such audit log files: {', '.join(missing)}.")
        return w.ListAuditlogLinksResponse(
            links=[file_link(parts, project_id, inst.id, files[i][0].id, files[i][1].name)[0] for i in ids]
        )


def delete_audit_logs(parts: Parts, project_id: str, instance_id: str, names: list[str] | None) -> None:
    """Delete audit log files; the file being written is emptied (the gateway keeps appending to it)."""
    if not names:
        raise InvalidParameter("file_names must name at least one audit log file.")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        files = {_audit_id(node, path): path for node, path in _audit_files(parts, inst, None)}
    missing = [n for n in names if n not in files]
    if missing:
        raise InvalidParameter(f"No such audit log files: {', '.join(missing)}.")
    for name in names:
        path = files[name]
        if path.name == LOG_FILES["audit"]:
            with open(path, "r+b") as f:
                f.truncate(0)
        else:
            path.unlink(missing_ok=True)
