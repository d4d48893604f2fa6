"""The composition root: builds the parts, registers every job kind, starts the
background threads, makes the app. Nothing below imports this module."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy import text

from dds import tasks
from dds.api.app import create_app
from dds.background.scheduler import Scheduler
from dds.background.supervisor import Supervisor
from dds.core.clock import Clock
from dds.core.settings import Settings
from dds.jobs.queue import release_orphans
from dds.jobs.registry import Registry
from dds.jobs.worker import WorkerPool
from dds.parts import Parts, build_parts
from dds.services import iam
from dds.tasks.backup_files import fail_orphaned_backups

log = logging.getLogger(__name__)


class Server:
    """One running service: parts, job kinds, workers, supervisor and scheduler."""

    def __init__(self, settings: Settings, clock: Clock | None = None, registry: Registry | None = None) -> None:
        self.parts: Parts = build_parts(settings, clock)
        self.registry = registry or tasks.registry()
        self.workers = WorkerPool(self.parts, self.registry, settings.worker_threads)
        self.supervisor = Supervisor(self.parts)
        self.scheduler = Scheduler(self.parts)

    def prepare(self) -> None:
        """Migrate the metadata store and make sure the demo project exists."""
        self.parts.db.migrate()
        iam.demo_project_id(self.parts)

    def start(self, *, background: bool = True) -> None:
        """Migrate, resume interrupted jobs, reconcile processes, start the threads."""
        parts = self.parts
        self.prepare()
        with parts.db.session() as s:
            released = release_orphans(s)
        if released:
            log.info("resuming %d interrupted job(s)", released)
        failed = fail_orphaned_backups(parts)
        if failed:
            log.info("marked %d backup(s) without a job as FAILED", failed)
        self.supervisor.reconcile()
        if background:
            self.workers.start()
            self.supervisor.start()
            self.scheduler.start()

    def stop(self) -> None:
        """Stop background threads, then every process this service started."""
        self.scheduler.stop()
        self.supervisor.stop()
        self.workers.stop()
        self.parts.provisioner.stop_all()
        self.parts.db.dispose()

    def readiness(self) -> dict[str, bool]:
        """What `GET /health/ready` checks: the metadata store answers, the background threads run."""
        try:
            with self.parts.db.session() as s:
                metadata = s.execute(text("SELECT 1")).scalar() == 1
        except Exception:  # noqa: BLE001 - any failure means not ready
            metadata = False
        return {
            "metadata": metadata,
            "workers": self.workers.alive(),
            "supervisor": self.supervisor.alive(),
            "scheduler": self.scheduler.alive(),
        }

    def app(self) -> FastAPI:
        """The HTTP API, starting and stopping this server with it."""
        return create_app(self.parts, on_start=self.start, on_stop=self.stop, readiness=self.readiness)
