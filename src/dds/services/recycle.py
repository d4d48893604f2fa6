"""The recycle bin: with a recycle policy, a deleted instance is kept as a backup taken at deletion.

Deleting then takes a physical backup first (the delete job's first step), stops and removes the
instance as before, and records it in the bin until `retained_until`. It comes back by the
documented route, a restore to a new instance from its `backup_id`. The scheduler purges expired
entries and their backups. Without a policy (the default), delete stays immediate.

An instance that is not serving (`abnormal`: its engine could not be started again) is backed up
from its files as they lie ("cold"); if even that fails, it is deleted without an entry rather
than left undeletable. One that never had data (`createfail`) is deleted at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dds.core.errors import DDSError, InvalidParameter
from dds.db.backups import Backup
from dds.db.management import RecycledInstance, RecyclePolicy
from dds.db.models import Job
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, BackupType, InstanceStatus
from dds.parts import Parts
from dds.services import backups, instances
from dds.services.paging import page
from dds.wire import models as w

MAX_DAYS = 7  # DDS keeps recycled instances 1 to 7 days
SERVING = (InstanceStatus.NORMAL, InstanceStatus.DATA_DISK_FULL)  # backed up through the running engine


def show_policy(parts: Parts, project_id: str) -> w.ShowRecyclePolicyResponse:
    with parts.db.session() as s:
        row = s.get(RecyclePolicy, project_id)
        enabled, days = (row.enabled, row.retention_days) if row else (False, MAX_DAYS)
    return w.ShowRecyclePolicyResponse(recycle_policy=w.RecyclePolicy(enabled=enabled, retention_period_in_days=days))


def set_policy(parts: Parts, project_id: str, body: w.RecyclePolicyRequestBody) -> None:
    policy = body.recycle_policy
    if policy is None or policy.enabled is None:
        raise InvalidParameter("recycle_policy.enabled is required.")
    days = policy.retention_period_in_days if policy.retention_period_in_days is not None else MAX_DAYS
    if not 1 <= days <= MAX_DAYS:
        raise InvalidParameter(f"retention_period_in_days must be 1 to {MAX_DAYS}.")
    with parts.db.session() as s:
        s.merge(RecyclePolicy(project_id=project_id, enabled=bool(policy.enabled), retention_days=days))


def delete(parts: Parts, project_id: str, instance_id: str) -> Job:
    """Delete, into the recycle bin when the project has a policy on."""
    with parts.db.session() as s:
        policy = s.get(RecyclePolicy, project_id)
        inst = instances.get(s, project_id, instance_id)
        # A replica set on PostgreSQL storage is backed up from a running member only (base backup).
        keep = inst.status in (SERVING if inst.storage == "postgresql" else (*SERVING, InstanceStatus.ABNORMAL))
        if policy is None or not policy.enabled or not keep:
            s.rollback()
            return instances.delete(parts, project_id, instance_id)
        instances.require(inst, "delete")
        stamp = parts.clock.now().strftime("%Y%m%d%H%M%S")
        b = backups.new_backup(parts, inst, kind=BackupType.MANUAL, name=f"recycle-{inst.name[:40]}-{stamp}")
        s.add(b)
        payload = {
            "backup_id": b.id,
            "recycle": True,
            "recycle_days": policy.retention_days,
            "cold": inst.status not in SERVING,  # from the files as they lie: the engine is down
        }
        job = instances.start_job(parts, s, inst, JobName.DELETE, InstanceStatus.DELETING, payload)
    parts.wakeup.set()
    return job


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000")


def listing(parts: Parts, project_id: str, offset: int, limit: int) -> w.ListRecycleInstancesResponse:
    with parts.db.session() as s:
        where = [RecycledInstance.project_id == project_id]
        rows, total = page(s, RecycledInstance, where, RecycledInstance.deleted_at.desc(), offset, limit)
        return w.ListRecycleInstancesResponse(
            instances=[
                w.RecycleInstance(
                    id=r.id,
                    name=r.name,
                    mode=r.mode,
                    datastore=w.RecycleDatastore(type="DDS-Community", version=r.datastore_version),
                    pay_mode="0",
                    enterprise_project_id="0",
                    backup_id=r.backup_id,
                    created_at=_stamp(r.created),
                    deleted_at=_stamp(r.deleted_at),
                    retained_until=_stamp(r.retained_until),
                )
                for r in rows
            ],
            total_count=total,
        )


def purge_expired(parts: Parts, now: datetime) -> int:
    """Entries past their retention go, with their backups (a delete-backup job each)."""
    purged = 0
    with parts.db.session() as s:
        expired = s.scalars(select(RecycledInstance.id).where(RecycledInstance.retained_until <= now)).all()
    for recycled_id in expired:
        try:
            with parts.db.session() as s:
                row = s.get(RecycledInstance, recycled_id)
                b = s.get(Backup, row.backup_id) if row is not None else None
                if b is not None and b.status != BackupStatus.DISABLED:
                    backups.mark_for_deletion(parts, s, b)
                if row is not None:
                    s.delete(row)
                purged += 1
        except DDSError:  # being restored from right now: the next tick tries again
            continue
    if purged:
        parts.wakeup.set()
    return purged
