"""Job kind of parameter changes: write the values, reload the gateways, restart the engines if
needed (member by member on a replica set on PostgreSQL storage)."""

from __future__ import annotations

from sqlalchemy import select

from dds.db.parameters import ConfigurationApplication, InstanceParameters, ParameterChange
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.fleet import gateways
from dds.jobs.registry import JobContext, JobKind
from dds.tasks.steps import load_instance, restart_nodes, restore_status, settle_if


def _store_values(ctx: JobContext) -> None:
    parts = ctx.parts
    with parts.db.session() as s:
        row = s.get(InstanceParameters, ctx.instance_id)
        if row is None:
            row = InstanceParameters(instance_id=ctx.instance_id, values={}, updated=parts.clock.now())
            s.add(row)
        row.values = dict(ctx.payload["values"])
        if ctx.payload.get("configuration_id"):
            row.configuration_id = ctx.payload["configuration_id"]
        row.updated = parts.clock.now()


def _make_real(ctx: JobContext) -> None:
    """Gateway settings by reload (clients keep their connections); engine settings by a restart."""
    parts = ctx.parts
    if ctx.payload.get("restart"):
        restart_nodes(ctx)
        return
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        gateways.reload_gateways(parts, load_instance(ctx, s))


def _record(ctx: JobContext, result: str, reason: str = "") -> None:
    parts = ctx.parts
    now = parts.clock.now()
    with parts.db.session() as s:
        ids = ctx.payload.get("changes", [])
        for change in s.scalars(select(ParameterChange).where(ParameterChange.id.in_(ids))):
            change.applied = result == "SUCCESS"
            change.applied_at = now
            change.result = result
        config_id = ctx.payload.get("configuration_id")
        inst = load_instance(ctx, s)
        if config_id:
            s.add(
                ConfigurationApplication(
                    configuration_id=config_id,
                    project_id=inst.project_id,
                    instance_id=inst.id,
                    instance_name=inst.name,
                    applied_at=now,
                    result=result,
                    failure_reason=reason,
                )
            )


def _done(ctx: JobContext) -> None:
    _record(ctx, "SUCCESS")
    settle_if(ctx.parts, ctx.instance_id, InstanceStatus.REBOOTING)


def _failed(ctx: JobContext, reason: str) -> None:
    _record(ctx, "FAILED", reason[:500])
    restore_status(ctx, reason)


KINDS = (JobKind(JobName.APPLY_PARAMETERS, (_store_values, _make_real, _done), on_failure=_failed),)
