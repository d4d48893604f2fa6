"""Job kinds of connection management: switching TLS, which restarts only the gateways."""

from __future__ import annotations

from dds.domain.jobs import JobName
from dds.fleet import gateways
from dds.jobs.registry import JobContext, JobKind
from dds.tasks.steps import load_instance, restore_status, settle


def _apply_ssl(ctx: JobContext) -> None:
    with ctx.parts.db.session() as s:
        load_instance(ctx, s).ssl_option = ctx.payload["ssl_option"]


def _restart_gateways(ctx: JobContext) -> None:
    """Each node's gateway comes back with (or without) its TLS listener; its engine keeps running."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        for node in inst.nodes:
            gateways.restart_gateway(parts, inst, node)


def _revert_ssl(ctx: JobContext, reason: str) -> None:
    """A switch that could not start its gateways leaves TLS as it was, serving."""
    old = ctx.payload.get("old_ssl_option")
    if old is not None:
        ctx.payload["ssl_option"] = old
        try:
            _apply_ssl(ctx)
            _restart_gateways(ctx)
        except Exception:  # noqa: BLE001 - the status below tells what is left
            pass
    restore_status(ctx, reason)


KINDS = (JobKind(JobName.SWITCH_SSL, (_apply_ssl, _restart_gateways, settle), on_failure=_revert_ssl),)
