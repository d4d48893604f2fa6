"""Connection management: sessions, connection statistics, kill-op rules, client networks, TLS.

The engine cannot tell who is connected or what runs (`currentOp` is empty, `killOp` absent);
each node's gateway can, and answers on its control socket (dds.gateway.control). Settings the
gateways enforce are rows (dds.db.gateway, `instances.ssl_option`) pushed to them on change.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.core.errors import Conflict, InternalError, InvalidParameter, LinkRefused, NotFound
from dds.db.gateway import ConnectionPolicy, KillOpRule
from dds.db.models import Instance, Job, Node
from dds.domain.jobs import JobName
from dds.domain.rules import check_paging
from dds.domain.states import InstanceStatus
from dds.fleet import gateways, tls
from dds.gateway.rules import OPERATION_TYPES
from dds.parts import Parts
from dds.services.instances import get as get_instance
from dds.services.instances import require, start_job
from dds.store import links
from dds.wire import models as w

MAX_RULES = 10
NODE_TYPES = ("mongos_shard", "mongos", "shard", "replica")
PLAN_SUMMARIES = (
    "COLLSCAN",
    "SORT_KEY_GENERATOR",
    "SKIP",
    "LIMIT",
    "GEO_NEAR_2DSPHERE",
    "GEO_NEAR_2D",
    "AGGREGATE",
    "OR",
)
MAX_NETWORKS = 50


def node_of(parts: Parts, project_id: str, node_id: str) -> tuple[Instance, Node]:
    with parts.db.session() as s:
        node = s.get(Node, node_id)
        if node is None:
            raise NotFound("The node does not exist.")
        inst = s.get(Instance, node.instance_id)
        if inst is None or inst.project_id != project_id:
            raise NotFound("The node does not exist.")
        s.expunge(node)
        return inst, node


# --- sessions -------------------------------------------------------------------------------


@dataclass
class SessionQuery:
    offset: int = 0
    limit: int = 100
    plan_summary: str | None = None
    type: str | None = None
    namespace: str | None = None
    cost_time: int | None = None  # ms: only operations running at least this long


def _session_view(node: Node, raw: dict[str, Any]) -> w.QuerySessionResponse:
    op = raw.get("op") or {}
    return w.QuerySessionResponse(
        id=str(raw["id"]),
        active=bool(raw.get("active")),
        operation=str(op.get("command") or "none"),
        type=str(op.get("type") or "none"),
        cost_time=str(int(op.get("running_ms") or 0)),
        plan_summary="",
        host=f"{node.host}:{node.port}",
        client=str(raw.get("client") or ""),
        description=f"conn{raw['id']}",
        namespace=str(op.get("namespace") or raw.get("last_namespace") or ""),
        db=str(op.get("db") or raw.get("last_db") or ""),
        user=str(raw.get("user") or ""),
    )


def list_sessions(parts: Parts, project_id: str, node_id: str, q: SessionQuery) -> w.ListSessionsResponse:
    """Every client connection of the node with the operation it is running (active) or none."""
    check_paging(q.offset, q.limit)
    if q.cost_time is not None and q.cost_time < 0:
        raise InvalidParameter("cost_time must not be negative.")
    _, node = node_of(parts, project_id, node_id)
    views = [_session_view(node, raw) for raw in gateways.ask(parts, node, {"op": "sessions"})["sessions"]]
    if q.type:
        views = [v for v in views if v.type == q.type]
    if q.namespace:
        views = [v for v in views if v.namespace == q.namespace]
    if q.cost_time:
        views = [v for v in views if v.active and int(v.cost_time or 0) >= q.cost_time]
    if q.plan_summary:
        views = []  # the engine reports no plans
    views.sort(key=lambda v: (not v.active, -int(v.cost_time or 0), int(v.id or 0)))
    return w.ListSessionsResponse(sessions=views[q.offset : q.offset + q.limit], total_count=len(views))


def kill_sessions(parts: Parts, project_id: str, node_id: str, sessions: list[str] | None) -> list[int]:
    """Close the sessions' client and engine connections: their operations and cursors end with them."""
    if not sessions:
        raise InvalidParameter("sessions must name at least one session.")
    try:
        wanted = [int(x) for x in sessions]
    except ValueError:
        raise InvalidParameter("Session IDs are the numeric IDs the sessions list shows.") from None
    _, node = node_of(parts, project_id, node_id)
    killed: list[int] = gateways.ask(parts, node, {"op": "kill", "ids": wanted})["killed"]
    return killed


def connection_statistics(
    parts: Parts, project_id: str, instance_id: str, node_id: str | None
) -> w.ShowConnectionStatisticsResponse:
    """Client connections per IP, from the gateways (the engine sees only its gateway).

    Every connection through a gateway is a tenant's ("outer"); the service's own management
    connections go straight to the engine and are not counted ("inner" stays empty).
    """
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        nodes = [n for n in inst.nodes if not node_id or n.id == node_id]
        if node_id and not nodes:
            raise InvalidParameter(f"Node {node_id!r} is not a node of this instance.")
        for n in nodes:
            s.expunge(n)
    per_ip: dict[str, int] = {}
    for node in nodes:
        stats = gateways.ask(parts, node, {"op": "stats"})["stats"]
        for ip, count in stats["connections"]["per_ip"].items():
            per_ip[ip] = per_ip.get(ip, 0) + int(count)
    outer = [w.QueryConnectionsResponse(client_ip=ip, count=n) for ip, n in sorted(per_ip.items())]
    total = sum(per_ip.values())
    return w.ShowConnectionStatisticsResponse(
        total_connections=total,
        total_inner_connections=0,
        total_outer_connections=total,
        inner_connections=[],
        outer_connections=outer,
    )


# --- kill-op rules ----------------------------------------------------------------------------


#: A rule's `status` as the reference lists it (responses and the `status` filter).
RULE_ENABLED, RULE_DISABLED = "ENABLED", "DISABLED"
#: `action` of PUT .../kill-op-rule → the status it sets. The reference documents `enable` and
#: `disable`; the upper-case statuses are accepted too, as this service always has.
RULE_ACTIONS = {
    "enable": RULE_ENABLED,
    "disable": RULE_DISABLED,
    RULE_ENABLED: RULE_ENABLED,
    RULE_DISABLED: RULE_DISABLED,
}


def _rule_view(r: KillOpRule) -> w.KillOpRule:
    """The SDK and the DDS tables declare the list fields as strings: comma-separated here."""
    return w.KillOpRule(
        id=r.id,
        operation_types=",".join(r.operation_types),
        namespaces=",".join(r.namespaces),
        client_ips=",".join(r.client_ips),
        plan_summary=r.plan_summary,
        max_concurrency=r.max_concurrency,
        secs_running=r.secs_running,
        node_type=r.node_type,
        status=r.status,
    )


def _check_rule(body: w.CreateKillOpRuleRequestBody) -> None:
    types = body.operation_types or []
    if not types or len(types) > 6 or any(t not in OPERATION_TYPES for t in types):
        raise InvalidParameter(f"operation_types must name 1 to 6 of {', '.join(OPERATION_TYPES)}.")
    if len(body.namespaces or []) > 1 or any(not n or n.startswith(".") for n in body.namespaces or []):
        raise InvalidParameter("namespaces takes one value: database or database.collection.")
    ips = body.client_ips or []
    if len(ips) > 5:
        raise InvalidParameter("client_ips takes at most 5 IPv4 addresses.")
    for ip in ips:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidParameter(f"Invalid client IP {ip!r}: only IPv4 addresses.") from None
    if body.plan_summary and body.plan_summary not in PLAN_SUMMARIES:
        raise InvalidParameter(f"plan_summary must be one of {', '.join(PLAN_SUMMARIES)}.")
    concurrency, secs = body.max_concurrency or 0, body.secs_running or 0
    if not 0 <= concurrency <= 100000:
        raise InvalidParameter("max_concurrency must be 0 (no limit) or 1 to 100000.")
    if not (secs == 0 or 2 <= secs <= 86400):
        raise InvalidParameter("secs_running must be 0 (no limit) or 2 to 86400.")
    if concurrency == 0 and secs == 0:
        raise InvalidParameter("max_concurrency and secs_running cannot both be 0.")
    if body.node_type and body.node_type not in NODE_TYPES:
        raise InvalidParameter(f"node_type must be one of {', '.join(NODE_TYPES)}.")


def create_kill_op_rule(parts: Parts, project_id: str, instance_id: str, body: w.CreateKillOpRuleRequestBody) -> str:
    """A new rule, DISABLED as DDS creates them; enabling it pushes it to the gateways."""
    _check_rule(body)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        count = len(s.scalars(select(KillOpRule.id).where(KillOpRule.instance_id == inst.id)).all())
        if count >= MAX_RULES:
            raise InvalidParameter(f"An instance has at most {MAX_RULES} killOp rules.")
        rule = KillOpRule(
            id=str(uuid.uuid4()),
            instance_id=inst.id,
            operation_types=list(dict.fromkeys(body.operation_types or [])),
            namespaces=list(body.namespaces or []),
            client_ips=list(body.client_ips or []),
            plan_summary=body.plan_summary or "",
            max_concurrency=body.max_concurrency or 0,
            secs_running=body.secs_running or 0,
            node_type=body.node_type or "replica",
            status=RULE_DISABLED,
            created=parts.clock.now(),
        )
        s.add(rule)
        return rule.id


@dataclass
class RuleQuery:
    offset: int = 0
    limit: int = 100
    operation_types: str | None = None
    namespaces: str | None = None
    status: str | None = None
    plan_summary: str | None = None


def list_kill_op_rules(
    parts: Parts, project_id: str, instance_id: str, q: RuleQuery
) -> w.ShowKillOpRuleRuleListResponse:
    check_paging(q.offset, q.limit)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        rows = s.scalars(
            select(KillOpRule).where(KillOpRule.instance_id == inst.id).order_by(KillOpRule.created, KillOpRule.id)
        ).all()
        chosen = [
            r
            for r in rows
            if (not q.operation_types or q.operation_types in r.operation_types)
            and (not q.namespaces or q.namespaces in r.namespaces)
            and (not q.status or q.status == r.status)
            and (not q.plan_summary or q.plan_summary == r.plan_summary)
        ]
        views = [_rule_view(r) for r in chosen[q.offset : q.offset + q.limit]]
    return w.ShowKillOpRuleRuleListResponse(rules=views, total_count=len(chosen))


def _need_ids(rule_ids: list[str] | None) -> None:
    if not rule_ids:
        raise InvalidParameter("ids must name at least one killOp rule.")


def update_kill_op_rules(
    parts: Parts, project_id: str, instance_id: str, action: str | None, rule_ids: list[str] | None
) -> None:
    """Enable or disable rules; the gateways enforce the enabled ones from the moment this returns."""
    status = RULE_ACTIONS.get(action or "")
    if status is None:
        raise InvalidParameter("action must be enable or disable.")
    _need_ids(rule_ids)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        rows = _rows(s, inst.id, rule_ids or [])
        for row in rows:
            row.status = status
    _push(parts, project_id, instance_id)


def delete_kill_op_rules(parts: Parts, project_id: str, instance_id: str, rule_ids: list[str] | None) -> None:
    """Delete disabled rules. As the reference says, an enabled rule cannot be deleted: if any of
    `rule_ids` is enabled, nothing is deleted (403 DBS.200011, the appendix's "current state" code)."""
    _need_ids(rule_ids)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        rows = _rows(s, inst.id, rule_ids or [])
        enabled = sorted(r.id for r in rows if r.status == RULE_ENABLED)
        if enabled:
            raise Conflict(f"Enabled killOp rules cannot be deleted; disable them first: {', '.join(enabled)}.")
        for row in rows:
            s.delete(row)
    _push(parts, project_id, instance_id)


def _rows(s: Session, instance_id: str, rule_ids: list[str]) -> list[KillOpRule]:
    rows = list(s.scalars(select(KillOpRule).where(KillOpRule.instance_id == instance_id, KillOpRule.id.in_(rule_ids))))
    missing = set(rule_ids) - {r.id for r in rows}
    if missing:
        raise InvalidParameter(f"No such killOp rules: {', '.join(sorted(missing))}.")
    return rows


def _push(parts: Parts, project_id: str, instance_id: str) -> None:
    """Rewrite the gateways' config and make them re-read it (settings that need no restart)."""
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        gateways.reload_gateways(parts, inst)


# --- client networks --------------------------------------------------------------------------


def show_client_network(parts: Parts, project_id: str, instance_id: str) -> w.ShowClientNetworkResponse:
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        row = s.get(ConnectionPolicy, inst.id)
        ranges = list(row.client_networks) if row else []
    return w.ShowClientNetworkResponse(instance_id=instance_id, client_network_ranges=ranges)


def update_client_network(parts: Parts, project_id: str, instance_id: str, ranges: list[str] | None) -> None:
    """The CIDRs clients may connect from (empty: every client); enforced by the gateways at accept."""
    if ranges is None:
        raise InvalidParameter("client_network_ranges is required.")
    if len(ranges) > MAX_NETWORKS:
        raise InvalidParameter(f"At most {MAX_NETWORKS} client network ranges.")
    clean = []
    for value in ranges:
        try:
            clean.append(str(ipaddress.IPv4Network(value, strict=False)))
        except (ValueError, TypeError):
            raise InvalidParameter(f"Invalid client network range {value!r}: expected IPv4 CIDR.") from None
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        row = s.get(ConnectionPolicy, inst.id)
        if row is None:
            row = ConnectionPolicy(instance_id=inst.id, audit_keep_days=0, audit_types=[], client_networks=[])
            s.add(row)
        row.client_networks = list(dict.fromkeys(clean))
    _push(parts, project_id, instance_id)


# --- TLS --------------------------------------------------------------------------------------


def switch_ssl(parts: Parts, project_id: str, instance_id: str, option: str | None) -> Job:
    """TLS on ("1") or off ("0"): a job restarts only the gateways (the engines keep running)."""
    if option not in ("0", "1"):
        raise InvalidParameter("ssl_option must be 0 (off) or 1 (on).")
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        require(inst, "restart")
        if inst.ssl_option == option:
            raise InvalidParameter(f"SSL is already {'on' if option == '1' else 'off'}.")
        payload = {"ssl_option": option, "old_ssl_option": inst.ssl_option}
        job = start_job(parts, s, inst, JobName.SWITCH_SSL, InstanceStatus.REBOOTING, payload)
    parts.wakeup.set()
    return job


CA_FILE = "ca.pem"


def _ca_key(instance_id: str) -> str:
    return f"ssl-ca:{instance_id}"


def ssl_cert_links(parts: Parts, project_id: str, instance_id: str) -> w.ListSslCertDownloadAddressResponse:
    """A signed, expiring link to the CA certificate that signs the instance's TLS certificates."""
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
    tls.ensure_ca(parts.settings)
    expires = parts.clock.now() + timedelta(seconds=parts.settings.link_ttl_seconds)
    secret = links.load_secret(parts.settings.link_secret, parts.settings.data_dir)
    exp = links.epoch(expires)
    sig = links.signature(secret, project_id, _ca_key(inst.id), CA_FILE, exp)
    url = (
        f"{parts.settings.base_url}/ssl-certs/{quote(project_id)}/{quote(inst.id)}/{CA_FILE}"
        f"?expires={exp}&signature={sig}"
    )
    return w.ListSslCertDownloadAddressResponse(certs=[w.CertInfo(category="PEM", download_link=url)])


def open_ca(parts: Parts, project_id: str, instance_id: str, name: str, expires: str, sig: str) -> bytes:
    secret = links.load_secret(parts.settings.link_secret, parts.settings.data_dir)
    links.check(secret, project_id, _ca_key(instance_id), name, expires, sig, parts.clock.now())
    if name != CA_FILE:
        raise LinkRefused()
    path = tls.ca_cert_path(parts.settings)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InternalError("The CA certificate is missing.") from exc
