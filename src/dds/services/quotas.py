"""Project quotas: instances, total volume and manual backups, with what is used of each.

Checked inside the transaction that would add the resource, so two requests racing for the
last unit cannot both succeed (the instance allocation lock serialises creates).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dds.core.errors import QuotaExceeded
from dds.core.settings import Settings
from dds.db.backups import Backup
from dds.db.management import ProjectQuota
from dds.db.models import Instance
from dds.domain.states import InstanceStatus
from dds.parts import Parts
from dds.wire import models as w


@dataclass(frozen=True)
class Limits:
    instances: int
    volume_gb: int
    backups: int


def limits(st: Settings, s: Session, project_id: str) -> Limits:
    """The project's own limits where set (`dds admin quota set`), else the settings' defaults."""
    row = s.get(ProjectQuota, project_id)
    return Limits(
        instances=row.instances if row and row.instances is not None else st.quota_instances,
        volume_gb=row.volume_gb if row and row.volume_gb is not None else st.quota_volume_gb,
        backups=row.backups if row and row.backups is not None else st.quota_backups,
    )


def _used(s: Session, project_id: str) -> tuple[int, int, int]:
    live = (Instance.project_id == project_id, Instance.status != InstanceStatus.DELETING)
    count = s.scalar(select(func.count()).select_from(Instance).where(*live)) or 0
    volume = s.scalar(select(func.coalesce(func.sum(Instance.volume_gb), 0)).where(*live)) or 0
    backups = (
        s.scalar(
            select(func.count()).select_from(Backup).where(Backup.project_id == project_id, Backup.type == "Manual")
        )
        or 0
    )
    return int(count), int(volume), int(backups)


def check_room(
    parts: Parts, s: Session, project_id: str, *, instances: int = 0, volume_gb: int = 0, backups: int = 0
) -> None:
    """QuotaExceeded when adding this much would pass a limit (nothing is written then)."""
    cap = limits(parts.settings, s, project_id)
    count, volume, manual = _used(s, project_id)
    if instances and count + instances > cap.instances:
        raise QuotaExceeded(f"Instance quota exceeded: {count} of {cap.instances} used.")
    if volume_gb and volume + volume_gb > cap.volume_gb:
        raise QuotaExceeded(f"Volume quota exceeded: {volume} of {cap.volume_gb} GB used, {volume_gb} GB more asked.")
    if backups and manual + backups > cap.backups:
        raise QuotaExceeded(f"Backup quota exceeded: {manual} of {cap.backups} manual backups used.")


def show(parts: Parts, project_id: str) -> w.ShowQuotasResponse:
    with parts.db.session() as s:
        cap = limits(parts.settings, s, project_id)
        count, volume, manual = _used(s, project_id)
    return w.ShowQuotasResponse(
        quotas=w.ShowResourcesListResponseBody(
            resources=[
                w.ShowResourcesDetailResponseBody(type="instance", mode="all", quota=cap.instances, used=count),
                w.ShowResourcesDetailResponseBody(type="volume", mode="all", quota=cap.volume_gb, used=volume),
                w.ShowResourcesDetailResponseBody(type="backup", mode="manual", quota=cap.backups, used=manual),
            ]
        )
    )
