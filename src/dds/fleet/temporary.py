"""A temporary, read-only engine on a frozen copy of an instance's files (a backup's).

The mongodump-layout export reads the copy, so the tenant's engine serves at full speed
meanwhile and the export shows the backup's one point in time across all databases.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from dds.backup import base_backup, logins, physical, users
from dds.backup.manifest import PHYSICAL_POSTGRESQL
from dds.backup.physical import Source
from dds.engine import postgres
from dds.engine.base import NodeSpec
from dds.fleet import nodes, staging_server
from dds.fleet.integrity import ADMIN as ADMIN_FILE
from dds.parts import Parts
from dds.provision.base import Role


@contextlib.contextmanager
def serve_copy(
    parts: Parts, instance_id: str, copy_dir: Path, password: str | None = None, postgresql_url: str | None = None
) -> Iterator[nodes.AdminClient]:
    """Yield a service-user client of a temporary read-only engine on the engine files in
    `copy_dir/data` (a backup's frozen copy, or the instance's files restored as of a time), or on
    the PostgreSQL server at `postgresql_url` (a base backup's, `fleet.staging_server`);
    `password` is the service user's as the copy has it."""
    listen, debug = _two_free_ports()
    spec = NodeSpec(
        node_dir=copy_dir,
        listen_host="127.0.0.1",
        listen_port=listen,
        debug_port=debug,
        repl_set_name=None,
        read_only=True,
        postgresql_url=postgresql_url,
    )
    try:
        nodes.start_engine(parts, spec, "a temporary copy")
        with nodes.service_client(parts, instance_id, "127.0.0.1", listen, 10000, password) as client:
            yield client
    finally:
        parts.provisioner.stop(copy_dir, Role.ENGINE)


@contextlib.contextmanager
def serve_restored(parts: Parts, instance_id: str, copy_dir: Path) -> Iterator[nodes.AdminClient]:
    """`serve_copy` on engine files restored into `copy_dir/data` (a backup's, or an archive's as
    of a time), whose service user is first given a one-time password: the instance they came
    from may be gone, and its password with it."""
    password = logins.fresh_password()
    logins.reset_in_sqlite(copy_dir / physical.DATA / ADMIN_FILE, password)
    with serve_copy(parts, instance_id, copy_dir, password) as client:
        yield client


@contextlib.contextmanager
def serve_archive(
    parts: Parts, instance_id: str, archived: Source, fmt: str, copy: Path
) -> Iterator[nodes.AdminClient]:
    """`serve_restored` on a physical archive read from `archived` and unpacked into `copy`
    (checked file by file first): SQLite files are served as they are; a base backup (`fmt`) is
    first brought up by a PostgreSQL server of its own."""
    if fmt != PHYSICAL_POSTGRESQL:
        physical.unpack(archived, copy)
        with serve_restored(parts, instance_id, copy) as client:
            yield client
        return
    base_backup.unpack(archived, copy)
    with serve_base_backup(parts, instance_id, copy) as client:
        yield client


@contextlib.contextmanager
def serve_base_backup(
    parts: Parts, instance_id: str, copy: Path, users_into: Path | None = None
) -> Iterator[nodes.AdminClient]:
    """`serve_copy` on a base backup unpacked into `copy/pgdata`: brought up by a PostgreSQL
    server of its own, its service user given a one-time password; its users kept in
    `users_into` (`backup.users`) when given."""
    password = logins.fresh_password()
    with staging_server.serving(parts, copy / base_backup.PGDATA) as port:
        if users_into is not None:
            users_into.mkdir(parents=True, exist_ok=True)
            users.save(port, users_into)  # before the one-time password: the backup's own rows
        logins.reset_in_postgresql(port, password)
        with serve_copy(parts, instance_id, copy, password, postgres.member_url(port)) as client:
            yield client


def _two_free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return a.getsockname()[1], b.getsockname()[1]
