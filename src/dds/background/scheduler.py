"""Automated backups by policy, and retention.

Every `scheduler_interval` seconds, on the runtime's clock (tests move it): an
instance whose window (`hh:mm-HH:MM`, UTC) is open today, on one of its period's
weekdays, gets one automated backup per window; automated backups older than the
instance's keep_days are deleted. One scheduler per service; several services on
one metadata store would each take the same decision (dedupe is by window start).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from dds.background.periodic import Periodic
from dds.db.backups import Backup
from dds.db.models import Instance
from dds.domain.states import ALLOWED, BackupStatus, BackupType
from dds.services import backups, maintenance, recycle

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


def window_start(now: datetime, start_time: str, period: str) -> datetime | None:
    """Start of the policy window that contains `now`, or None when none is open."""
    hh, mm = (int(x) for x in start_time.split("-", 1)[0].split(":"))
    days = {int(d) for d in period.split(",") if d.strip()}
    today = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    for start in (today, today - timedelta(days=1)):  # a 23:xx window is still open after midnight
        if start <= now < start + WINDOW and start.isoweekday() in days:
            return start
    return None


class Scheduler(Periodic):
    name = "dds-scheduler"

    def interval(self) -> float:
        return self.parts.settings.scheduler_interval

    def tick(self) -> None:
        now = self.parts.clock.now()
        self.take_due(now)
        self.prune(now)
        if maintenance.run_due(self.parts, now):
            self.parts.wakeup.set()
        recycle.purge_expired(self.parts, now)

    def take_due(self, now: datetime) -> int:
        """One automated backup per open window. An instance created after the window
        opened waits for the next one, so a new instance is never backed up mid-creation."""
        parts, taken = self.parts, 0
        with parts.db.session() as s:
            candidates = s.scalars(select(Instance).where(Instance.backup_keep_days > 0)).all()
            due: list[tuple[str, datetime]] = []
            for inst in candidates:
                start = window_start(now, inst.backup_start_time, inst.backup_period)
                if start is None or inst.created >= start or inst.status not in ALLOWED["backup"]:
                    continue
                exists = s.scalar(
                    select(Backup.id).where(
                        Backup.instance_id == inst.id, Backup.type == BackupType.AUTO, Backup.scheduled_for == start
                    )
                )
                if not exists:
                    due.append((inst.id, start))
        for instance_id, start in due:
            with parts.db.session() as s:
                target = s.get(Instance, instance_id)
                if target is None or target.status not in ALLOWED["backup"]:
                    continue
                name = f"{target.name[:40]}-auto-{start:%Y%m%d%H%M}"
                backups.start_backup(parts, s, target, kind=BackupType.AUTO, name=name, scheduled_for=start)
                taken += 1
                log.info("automated backup of %s for window %s", instance_id, start)
        if taken:
            parts.wakeup.set()
        return taken

    def prune(self, now: datetime) -> int:
        """Automated backups past their instance's keep_days are deleted (keep_days 0
        stops new ones and keeps the old until the instance goes)."""
        parts, pruned = self.parts, 0
        with parts.db.session() as s:
            rows = s.execute(
                select(Backup, Instance.backup_keep_days)
                .join(Instance, Instance.id == Backup.instance_id)
                .where(Backup.type == BackupType.AUTO, Backup.status.in_((BackupStatus.COMPLETED, BackupStatus.FAILED)))
            ).all()
            for b, keep_days in rows:
                if keep_days and b.begin_time + timedelta(days=keep_days) <= now:
                    backups.mark_for_deletion(parts, s, b)
                    pruned += 1
        if pruned:
            parts.wakeup.set()
        return pruned
