"""FerretDB v1: one process per node, on SQLite files or on the member's PostgreSQL server."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from functools import cached_property
from pathlib import Path

from dds.core.errors import InternalError
from dds.engine.base import Launch, NodeSpec


class FerretDB:
    """Adapter for the bundled FerretDB binary."""

    name = "ferretdb"

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    @cached_property
    def _version(self) -> str:
        if not self.binary.exists():
            raise InternalError(f"engine binary {self.binary} is missing; run `make engine`")
        out = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip()
        return "unknown"

    def version(self) -> str:
        """The engine's own version, e.g. `v1.24.2`."""
        return self._version

    def launch(self, spec: NodeSpec) -> Launch:
        """Command line and environment for one node.

        The setup password goes through the environment, never argv. Read-only
        mode (volume full) opens every SQLite file with `query_only`, so reads
        keep working and writes fail inside the engine.
        """
        argv = [str(self.binary), *self._backend(spec)]
        argv += [
            f"--state-dir={spec.state_dir.resolve()}",
            f"--listen-addr={spec.listen_host}:{spec.listen_port}",
            f"--debug-addr=127.0.0.1:{spec.debug_port}",
            "--telemetry=disable",
            "--test-enable-new-auth",
            "--log-level=INFO",
            "--log-format=text",
        ]
        if spec.repl_set_name:
            argv.append(f"--repl-set-name={spec.repl_set_name}")
        env = {
            # Flavor limits: Go scheduler threads and the soft heap limit.
            "GOMAXPROCS": str(max(1, spec.vcpus)),
            "GOMEMLIMIT": str(int(spec.ram_bytes * 0.9)),
        }
        if spec.setup_user and spec.setup_password:
            argv += ["--setup-database=admin", f"--setup-username={spec.setup_user}"]
            env["FERRETDB_SETUP_PASSWORD"] = spec.setup_password
        return Launch(argv=argv, env=env)

    @staticmethod
    def _backend(spec: NodeSpec) -> list[str]:
        if spec.postgresql_url:
            return ["--handler=postgresql", f"--postgresql-url={spec.postgresql_url}"]
        url = f"file:{spec.data_dir.resolve()}/"
        pragmas = []
        if spec.read_only:
            pragmas.append("_pragma=query_only(true)")
        if spec.cache_kib:
            pragmas.append(f"_pragma=cache_size(-{spec.cache_kib})")  # negative: KiB, not pages
        if pragmas:
            url += "?" + "&".join(pragmas)
        return ["--handler=sqlite", f"--sqlite-url={url}"]

    def is_ready(self, spec: NodeSpec) -> bool:
        """Ready when the debug server says so and the wire port accepts."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{spec.debug_port}/debug/readyz", timeout=1) as resp:
                if resp.status != 200:
                    return False
            with socket.create_connection((_dial_host(spec.listen_host), spec.listen_port), timeout=1):
                return True
        except OSError:
            return False


def _dial_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
