"""`python -m dds.walarchive --spool D --port P ... --bin-dir B (--replica-dir R | --s3-bucket ...)`.

The service runs one of these per replica set on PostgreSQL storage with incremental backup on,
beside its first member (recorded, revived and stopped with it); it archives the WAL of whichever
member is primary. `pg_receivewal` stays in this process's group: stopping the group stops both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dds.archiver.config import add_replica_arguments, replica_from_arguments
from dds.core.children import asked_to_stop
from dds.walarchive.shipper import Shipper, WalArchiveConfig


def parse(argv: list[str] | None) -> WalArchiveConfig:
    p = argparse.ArgumentParser(prog="python -m dds.walarchive", description=__doc__)
    p.add_argument("--spool", type=Path, required=True)
    p.add_argument("--port", type=int, action="append", required=True)
    p.add_argument("--bin-dir", type=Path, required=True)
    p.add_argument("--user")
    add_replica_arguments(p)
    p.add_argument("--retention-days", type=int, default=7)
    a = p.parse_args(argv)
    return WalArchiveConfig(
        spool=a.spool,
        ports=tuple(a.port),
        bin_dir=a.bin_dir,
        user=a.user or None,
        replica=replica_from_arguments(p, a),
        retention_days=a.retention_days,
    )


def main(argv: list[str] | None = None) -> int:
    stopping = asked_to_stop()
    config = parse(argv)
    Shipper(config).run(stopping)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
