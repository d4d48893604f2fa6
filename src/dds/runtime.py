"""The running service's parts, wired once and shared by API, workers and scheduler."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from dds.clock import Clock
from dds.db.session import Database
from dds.engine.ferretdb import FerretDB
from dds.provision.local import LocalProvisioner
from dds.settings import Settings

if TYPE_CHECKING:
    from dds.jobs.worker import WorkerPool
    from dds.services.scheduler import Scheduler
    from dds.services.supervisor import Supervisor

log = logging.getLogger(__name__)


class Runtime:
    """Owns settings, metadata store, engine adapter, provisioner and background threads."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.instances_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.metadata_url)
        self.engine = FerretDB(settings.engine_path)
        self.provisioner = LocalProvisioner()
        self._locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()
        self.workers: WorkerPool | None = None
        self.supervisor: Supervisor | None = None
        self.scheduler: Scheduler | None = None

    def instance_lock(self, instance_id: str) -> threading.RLock:
        """Serialises jobs and the supervisor on one instance."""
        with self._locks_guard:
            return self._locks[instance_id]

    def start(self, *, background: bool = True) -> None:
        """Migrate, reconcile engines left by a previous run, start workers and supervisor."""
        from dds.jobs import backup_jobs, instance_jobs  # noqa: F401  (registers job kinds)
        from dds.jobs.store import release_orphans
        from dds.jobs.worker import WorkerPool
        from dds.services import iam
        from dds.services.scheduler import Scheduler
        from dds.services.supervisor import Supervisor

        self.db.migrate()
        with self.db.session() as s:
            iam.ensure_demo_project(s, self)
            released = release_orphans(s)
        if released:
            log.info("resuming %d interrupted job(s)", released)
        failed = backup_jobs.fail_orphaned_backups(self)
        if failed:
            log.info("marked %d backup(s) without a job as FAILED", failed)
        workers = WorkerPool(self, self.settings.worker_threads)
        supervisor, scheduler = Supervisor(self), Scheduler(self)
        self.workers, self.supervisor, self.scheduler = workers, supervisor, scheduler
        supervisor.reconcile()
        if background:
            workers.start()
            supervisor.start()
            scheduler.start()

    def stop(self) -> None:
        """Stop background threads, then every engine this process started."""
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.workers is not None:
            self.workers.stop()
        self.provisioner.stop_all()
        self.db.dispose()
