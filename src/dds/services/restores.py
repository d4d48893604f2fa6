"""Restores: to a new instance (create with `restore_point`) or onto an existing one."""

from __future__ import annotations

from dds.core.errors import BackupInvalid, InvalidParameter, StorageOutOfRange, Unsupported
from dds.db.backups import Backup
from dds.db.models import Instance, Job
from dds.domain.jobs import JobName
from dds.domain.states import BACKUP_ALLOWED, InstanceStatus, transition
from dds.jobs.queue import enqueue
from dds.parts import Parts
from dds.services import backups, instances
from dds.wire import models as w


def _backup_for(parts: Parts, project_id: str, point: w.RestorePoint | w.Source, *, where: str) -> Backup:
    """The COMPLETED backup a restore point or source names (404 for other projects' backups)."""
    kind = point.type or "backup"
    if kind == "timestamp":
        raise Unsupported("Point-in-time restore is not available yet; restore from a backup (type backup).")
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
    """A new instance with the source's mode and version, loaded from a verified backup."""
    b = _backup_for(parts, project_id, restore_point, where="restore_point")
    given = req.datastore or w.Datastore()
    datastore = w.Datastore(type=given.type or b.datastore_type, version=given.version or b.datastore_version)
    flavor = [f.model_copy() for f in req.flavor or []]
    if len(flavor) == 1 and not flavor[0].size:
        flavor[0].size = str(b.volume_gb)
    req = req.model_copy(update={"mode": b.instance_mode, "datastore": datastore, "flavor": flavor})
    valid = instances.validate_create(req)
    if valid.size < b.volume_gb:
        raise StorageOutOfRange(f"The storage space must be at least that of the backup's instance ({b.volume_gb} GB).")
    return instances.provision(parts, project_id, req, valid, job_name=JobName.RESTORE_NEW, payload={"backup_id": b.id})


def restore_existing(parts: Parts, project_id: str, source: w.Source | None, target: w.Target | None) -> Job:
    """Replace an existing instance's data with a backup of the same project."""
    if not source or not source.instance_id:
        raise InvalidParameter("source.instance_id is required.")
    if not target or not target.instance_id:
        raise InvalidParameter("target.instance_id is required.")
    b = _backup_for(parts, project_id, source, where="source")
    with parts.db.session() as s:
        inst = instances.get(s, project_id, target.instance_id)
        instances.require(inst, "restore_target")
        transition(inst, InstanceStatus.RESTORING)
        inst.updated = parts.clock.now()
        job = enqueue(
            s,
            name=JobName.RESTORE_CURRENT,
            project_id=project_id,
            now=parts.clock.now(),
            instance_id=inst.id,
            instance_name=inst.name,
            payload={"backup_id": b.id},
        )
    parts.wakeup.set()
    return job
