"""The frozen set of parts a running service is made of, built once from settings.

Everything above this layer (fleet, jobs, tasks, services, background, api) receives a
`Parts` and reaches settings, clock, metadata store, engine adapter, provisioner,
backup store and authenticator through it; nothing hangs extra state on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dds.core.clock import Clock
from dds.core.locks import KeyedLocks, Wakeup
from dds.core.settings import Settings
from dds.db.session import Database
from dds.engine.base import Engine
from dds.engine.ferretdb import FerretDB
from dds.iam.authenticator import Authenticator
from dds.provision.base import Provisioner
from dds.provision.local import LocalProvisioner
from dds.store.base import BackupStore
from dds.store.choose import open_store


@dataclass(frozen=True)
class Parts:
    settings: Settings
    clock: Clock
    db: Database
    engine: Engine
    provisioner: Provisioner
    store: BackupStore
    authenticator: Authenticator
    locks: KeyedLocks  # one per instance: jobs and the supervisor never work on it at once
    wakeup: Wakeup  # set after a job is enqueued


def build_parts(settings: Settings, clock: Clock | None = None) -> Parts:
    """Real implementations chosen by name from settings (engine, provisioner, store)."""
    clock = clock or Clock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.instances_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.metadata_url)
    return Parts(
        settings=settings,
        clock=clock,
        db=db,
        engine=FerretDB(settings.engine_path),
        provisioner=LocalProvisioner(
            fork_modules=("dds.gateway",) if settings.fast_spawn else (),
            preload=("dds.gateway.server", "dds.gateway.config", "uvloop"),
        ),
        store=open_store(settings),
        authenticator=Authenticator(settings, db, clock),
        locks=KeyedLocks(),
        wakeup=Wakeup(),
    )
