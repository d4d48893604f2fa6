"""Point-in-time restores: the instance's files restored from its archive as of a time.

Restores to a new instance and onto the original share the job kinds (and DDS job names) of
restores from a backup; their payload says which source they read (`restore_time_ms`), and
`by_source` picks the step that fetches the files (`tasks.restore` puts them in place as it does
a physical backup's, keeping the target's users, oplog and sessions).
Database/collection-level restores copy what existed at a time into the running instance under
new names, through a temporary engine on the restored files, never overwriting anything.
"""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pymongo.collection import Collection

from dds.archiver.errors import ArchiverError, OutsideRestoreRanges
from dds.archiver.restore import restore
from dds.backup import physical
from dds.core.errors import InstanceNotFound, InternalError, RestoreTimeOutOfRange
from dds.db.models import Instance
from dds.domain.states import settled, transition
from dds.fleet import archivers, as_of, layout, nodes, temporary
from dds.jobs.registry import JobContext, Step
from dds.parts import Parts
from dds.tasks.steps import clear_staging, ensure_running, load_instance

BATCH = 1000  # documents per insert when copying a collection back
_INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


def by_source(from_backup: Step, from_archive: Step) -> Step:
    """One step of a restore kind: the backup's way or the archive's, by the job's payload."""

    def step(ctx: JobContext) -> None:
        (from_archive if "restore_time_ms" in ctx.payload else from_backup)(ctx)

    step.__name__ = f"{from_backup.__name__}|{from_archive.__name__}"
    return step


def _restored_dir(parts: Parts, job_id: str, name: str = "pitr") -> Path:
    return layout.staging(parts.settings, job_id) / name


def restore_into(parts: Parts, source_id: str, at_ms: int, out: Path, databases: set[str] | None = None) -> None:
    with parts.db.session() as s:
        src = s.get(Instance, source_id)
        if src is None:
            raise InstanceNotFound("The source instance of the point-in-time restore no longer exists.")
        config = archivers.config_for(parts, src, nodes.primary(src))
    shutil.rmtree(out, ignore_errors=True)
    try:
        restore(config, at_ms, out, databases=databases)
    except OutsideRestoreRanges:
        raise RestoreTimeOutOfRange() from None
    except ArchiverError as exc:
        raise InternalError(f"The archive could not be restored: {exc}") from exc


# --- database and collection level, into the running instance ---------------------------------


def fetch_collections(ctx: JobContext) -> None:
    """Each requested (time, databases) group restored into its own staging directory (on
    PostgreSQL storage: a copy recovered to the time, `as_of`)."""
    parts = ctx.parts
    with parts.db.session() as s:
        inst = load_instance(ctx, s)
        on_postgresql = inst.storage == "postgresql"
        live_admin = layout.data_dir(parts.settings, nodes.primary(inst)) / "admin.sqlite"
    for group in ctx.payload["groups"]:
        out = _restored_dir(parts, ctx.job_id, f"t{group['time_ms']}") / ("pg" if on_postgresql else "data")
        if out.is_dir():
            continue  # complete: renamed into place only once whole
        partial = out.with_name(f"{out.name}.partial")
        if on_postgresql:
            shutil.rmtree(partial, ignore_errors=True)
            as_of.recover(parts, ctx.instance_id, int(group["time_ms"]), partial)
            partial.rename(out)
            continue
        restore_into(parts, ctx.instance_id, int(group["time_ms"]), partial, set(group["databases"]))
        # The temporary engine is logged in to with the instance's own (current) service user.
        if (partial / "admin.sqlite").exists():
            physical.keep_users(partial / "admin.sqlite", live_admin)
        else:
            physical.copy_database(live_admin, partial / "admin.sqlite")
        partial.rename(out)


def copy_collections(ctx: JobContext) -> None:
    """Copy every requested collection, with its indexes, under its new name; the instance keeps
    serving. A collection this job started and did not finish is dropped and copied again."""
    parts = ctx.parts
    done: list[str] = ctx.payload.setdefault("done", [])
    ensure_running(ctx)  # a resumed job: what did not survive the crash first
    with parts.db.session() as s:
        inst = load_instance(ctx, s)
        _ = inst.nodes
    with nodes.admin_client(parts, inst, timeout_ms=30000) as live:
        for group in ctx.payload["groups"]:
            copy_dir = _restored_dir(parts, ctx.job_id, f"t{group['time_ms']}")
            with _serve(parts, inst, copy_dir) as old:
                for item in group["collections"]:
                    target = f"{item['database']}.{item['new']}"
                    if target in done:
                        continue
                    ctx.payload["current"] = target
                    live[item["database"]].drop_collection(item["new"])  # a half copy of an earlier attempt
                    _copy_one(old[item["database"]][item["old"]], live[item["database"]][item["new"]])
                    done.append(target)


def _serve(parts: Parts, inst: Instance, copy_dir: Path) -> AbstractContextManager[nodes.AdminClient]:
    if inst.storage == "postgresql":
        return temporary.serve_base_backup(parts, inst.id, copy_dir / "pg")
    return temporary.serve_copy(parts, inst.id, copy_dir)


def _copy_one(src: Collection[dict[str, Any]], dst: Collection[dict[str, Any]]) -> None:
    dst.database.create_collection(dst.name)
    for name, spec in src.index_information().items():
        if name == "_id_":
            continue
        options = {k: v for k, v in spec.items() if k in _INDEX_OPTIONS}
        dst.create_index(spec["key"], name=name, **options)
    batch: list[dict[str, Any]] = []
    for doc in src.find({}, batch_size=BATCH):
        batch.append(doc)
        if len(batch) >= BATCH:
            dst.insert_many(batch, ordered=False)
            batch = []
    if batch:
        dst.insert_many(batch, ordered=False)


def finish_collections(ctx: JobContext) -> None:
    clear_staging(ctx.parts, ctx.job_id)
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            transition(inst, settled(inst.read_only))
            inst.updated = ctx.parts.clock.now()


def collections_failed(ctx: JobContext, reason: str) -> None:
    """Drop the half copy (only ever a collection this job created), leave the instance serving."""
    parts = ctx.parts
    clear_staging(parts, ctx.job_id)
    current = ctx.payload.get("current")
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        _ = inst.nodes
        if current and current not in ctx.payload.get("done", []):
            db, _, coll = str(current).partition(".")
            try:
                with nodes.admin_client(parts, inst) as live:
                    live[db].drop_collection(coll)
            except Exception:  # noqa: BLE001 - best effort; the instance is settled regardless
                pass
        transition(inst, settled(inst.read_only))
