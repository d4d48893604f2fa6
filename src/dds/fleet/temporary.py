"""A temporary, read-only engine on a frozen copy of an instance's files (a backup's).

The mongodump-layout export reads the copy, so the tenant's engine serves at full speed
meanwhile and the export shows the backup's one point in time across all databases.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from dds.engine.base import NodeSpec
from dds.fleet import nodes
from dds.parts import Parts
from dds.provision.base import Role


@contextlib.contextmanager
def serve_copy(
    parts: Parts, instance_id: str, copy_dir: Path, password: str | None = None
) -> Iterator[nodes.AdminClient]:
    """Yield a service-user client of a temporary read-only engine on the engine files in
    `copy_dir/data` (a backup's frozen copy, or the instance's files restored as of a time);
    `password` is the service user's as the copy has it."""
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
        nodes.start_engine(parts, spec, "a temporary copy")
        with nodes.service_client(parts, instance_id, "127.0.0.1", listen, 10000, password) as client:
            yield client
    finally:
        parts.provisioner.stop(copy_dir, Role.ENGINE)


def _two_free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return a.getsockname()[1], b.getsockname()[1]
