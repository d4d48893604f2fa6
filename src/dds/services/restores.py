"""Restores: to a new instance (create with `restore_point`) or onto an existing one."""

from __future__ import annotations

from typing import Any

from dds.core.errors import BackupInvalid, InvalidParameter, StorageOutOfRange
from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.jobs import JobName
from dds.domain.states import BACKUP_ALLOWED, InstanceStatus
from dds.fleet import members, nodes
from dds.parts import Parts
from dds.services import backups, instances, pitr, recovery
from dds.wire import models as w


def _backup_for(parts: Parts, project_id: str, point: w.RestorePoint | w.Source, *, where: str) -> Backup:
    """The COMPLETED backup a restore point or source names (404 for other projects' backups)."""
    kind = point.type or "backup"
    if kind != "backup":
        raise InvalidParameter(f"Invalid {where}.type: backup or timestamp.")
    backup_id = point.backup_id
    if not backup_id:
        raise InvalidParameter(f"{where}.backup_id is required.")
    with parts.db.session() as s:
        b = backups.get(s, project_id, str(backup_id))
        if point.instance_id and point.instance_id != b.instance_id:
            raise BackupInvalid(f"The backup does not belong to instance {point.instance_id}.")
        if b.status not in BACKUP_ALLOWED["restore"]:
            raise BackupInvalid(f"The backup is {b.status}; only completed backups can be restored.")
    if b.store != parts.store.name:
        raise BackupInvalid(f"The backup is kept in the {b.store!r} store, which is not configured now.")
    return b


def restore_to_new(
    parts: Parts, project_id: str, req: w.CreateInstanceRequestBody, restore_point: w.RestorePoint
) -> tuple[Instance, Job]:
    """A new instance with the source's mode and version, loaded from a verified backup or from the
    source instance's archive as of a time (`restore_point.type` backup or timestamp)."""
    payload: dict[str, Any]
    if (restore_point.type or "backup") == "timestamp":
        point = pitr.point_in_time(
            parts, project_id, restore_point.instance_id, restore_point.restore_time, "restore_point"
        )
        with parts.db.session() as s:
            src = instances.get(s, project_id, point.instance_id)
            mode, ds_type, version, volume = src.mode, src.datastore_type, src.datastore_version, src.volume_gb
        payload = {"source_instance_id": point.instance_id, "restore_time_ms": point.at_ms}
    else:
        b = _backup_for(parts, project_id, restore_point, where="restore_point")
        mode, ds_type, version, volume = b.instance_mode, b.datastore_type, b.datastore_version, b.volume_gb
        payload = {"backup_id": b.id}
    given = req.datastore or w.Datastore()
    datastore = w.Datastore(type=given.type or ds_type, version=given.version or version)
    flavor = [f.model_copy() for f in req.flavor or []]
    if len(flavor) == 1 and not flavor[0].size:
        flavor[0].size = str(volume)
    req = req.model_copy(update={"mode": mode, "datastore": datastore, "flavor": flavor})
    valid = instances.validate_create(req)
    if valid.size < volume:
        raise StorageOutOfRange(f"The storage space must be at least that of the source instance ({volume} GB).")
    return instances.provision(parts, project_id, req, valid, job_name=JobName.RESTORE_NEW, payload=payload)


def restore_existing(parts: Parts, project_id: str, source: w.Source | None, target: w.Target | None) -> Job:
    """Replace an existing instance's data with a backup of the same project."""
    if not source or not source.instance_id:
        raise InvalidParameter("source.instance_id is required.")
    if not target or not target.instance_id:
        raise InvalidParameter("target.instance_id is required.")
    payload: dict[str, Any]
    if (source.type or "backup") == "timestamp":
        if source.instance_id != target.instance_id:
            raise InvalidParameter("A point-in-time restore goes onto the original instance: target = source.")
        point = pitr.point_in_time(parts, project_id, source.instance_id, source.restore_time, "source")
        payload = {"source_instance_id": point.instance_id, "restore_time_ms": point.at_ms}
    else:
        payload = {"backup_id": _backup_for(parts, project_id, source, where="source").id}
    with parts.db.session() as s:
        inst = instances.get(s, project_id, target.instance_id)
        # Nothing of the target to keep: its node is rebuilt from the source (SQLite storage; a
        # PostgreSQL member rebuilds itself from the others).
        if recovery.lost(inst) and not members.uses_postgresql(inst):
            job = recovery.start(parts, s, inst, payload, f"a restore request ({payload})")
        else:
            instances.require(inst, "restore_target")
            job = instances.start_job(parts, s, inst, JobName.RESTORE_CURRENT, InstanceStatus.RESTORING, payload)
    parts.wakeup.set()
    return job


def restore_collections(
    parts: Parts, project_id: str, instance_id: str, body: w.RestoreInstanceFromCollectionRequestBody | None
) -> Job:
    """Databases/collections as of a time back into the running instance under new names
    (`new_name`, or DDS's `<name>_bak_<time>`), never over an existing collection."""
    items = (body.restore_collections if body else None) or []
    if not items:
        raise InvalidParameter("restore_collections is required.")
    groups: dict[int, dict[str, Any]] = {}
    targets: set[tuple[str, str]] = set()
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        instances.require(inst, "restore_target")
        _ = inst.nodes
    for item in items:
        db = (item.database or "").strip()
        if not db or db in pitr.SYSTEM_DATABASES:
            raise InvalidParameter("restore_collections.database is required and cannot be a system database.")
        db_time = item.restore_database_time
        for c in item.collections or []:
            if not c.old_name:
                raise InvalidParameter("restore_collections.collections.old_name is required.")
            when = c.restore_collection_time or db_time
            at = pitr.point_in_time(parts, project_id, instance_id, when, "restore_collections").at_ms
            new = c.new_name or f"{c.old_name}_bak_{at}"
            if (db, new) in targets:
                raise InvalidParameter(f"The new name {db}.{new} is given twice.")
            targets.add((db, new))
            group = groups.setdefault(at, {"time_ms": at, "databases": set(), "collections": []})
            group["databases"].add(db)
            group["collections"].append({"database": db, "old": c.old_name, "new": new})
        if not item.collections:
            raise InvalidParameter("restore_collections.collections is required.")
    _check_names_free(parts, inst, targets)
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        instances.require(inst, "restore_target")
        payload = {"groups": [{**g, "databases": sorted(g["databases"])} for g in groups.values()]}
        job = instances.start_job(parts, s, inst, JobName.RESTORE_COLLECTIONS, InstanceStatus.RESTORING, payload)
    parts.wakeup.set()
    return job


def _check_names_free(parts: Parts, inst: Instance, targets: set[tuple[str, str]]) -> None:
    """Never overwrite: each new name must not exist in the instance now."""
    with nodes.admin_client(parts, inst) as client:
        for db, new in sorted(targets):
            if new in client[db].list_collection_names():
                raise InvalidParameter(f"The collection {db}.{new} already exists; choose another new_name.")
