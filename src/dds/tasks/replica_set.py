"""Job kinds of a replica set's primary: a switchover, and the promotion of a chosen secondary."""

from __future__ import annotations

from dds.domain.jobs import JobName
from dds.fleet import rolling
from dds.jobs.registry import JobContext, JobKind
from dds.tasks.steps import load_instance, restore_status, settle


def _switch(ctx: JobContext) -> None:
    """Idempotent: a resumed job whose switchover already happened finds the target primary (a
    promotion) or switches once more (a switchover moves the primary either way)."""
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = load_instance(ctx, s)
        to = next((n for n in inst.nodes if n.id == ctx.payload.get("node_id")), None)
        rolling.switchover(parts, inst, to)


KINDS = (
    JobKind(JobName.SWITCHOVER, (_switch, settle), on_failure=restore_status),
    JobKind(JobName.PROMOTE, (_switch, settle), on_failure=restore_status),
)
