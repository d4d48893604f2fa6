"""A temporary, read-only engine on a frozen copy of an instance (see `backup.snapshot`).

The dump reads the copy, so the tenant's engine serves at full speed meanwhile and every
mode (Single too) gets one consistent point in time across all databases.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from dds.backup.snapshot import freeze_copy
from dds.db.models import Instance
from dds.engine.base import NodeSpec
from dds.fleet import layout, nodes
from dds.parts import Parts
from dds.provision.base import Role


@contextlib.contextmanager
def serve_snapshot(parts: Parts, inst: Instance, work: Path) -> Iterator[tuple[nodes.AdminClient, datetime]]:
    """Yield a client of a temporary engine on a frozen copy of `inst`, and the copy's time."""
    node = nodes.primary(inst)
    copy_dir = work / "engine"
    taken = parts.clock.now()
    freeze_copy(nodes.engine_pid(parts, node), layout.data_dir(parts.settings, node), copy_dir / "data")
    with serve_copy(parts, inst.id, copy_dir) as client:
        yield client, taken


@contextlib.contextmanager
def serve_copy(
    parts: Parts, instance_id: str, copy_dir: Path, password: str | None = None
) -> Iterator[nodes.AdminClient]:
    """Yield a service-user client of a temporary read-only engine on the engine files in
    `copy_dir/data` (a frozen copy); `password` is the service user's as the copy has it."""
    listen, debug = _two_free_ports()
    spec = NodeSpec(
        node_dir=copy_dir,
        listen_host="127.0.0.1",
        listen_port=listen,
        debug_port=debug,
        repl_set_name=None,
        read_only=True,
    )
    try:
        nodes.start_engine(parts, spec, "the backup's temporary copy")
        with nodes.service_client(parts, instance_id, "127.0.0.1", listen, 10000, password) as client:
            yield client
    finally:
        parts.provisioner.stop(copy_dir, Role.ENGINE)


def _two_free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return a.getsockname()[1], b.getsockname()[1]
