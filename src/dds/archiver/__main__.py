"""`python -m dds.archiver --data-dir D --state-dir S (--replica-dir R | --s3-bucket B ...)`: archive one node.

The service runs one of these per node of an instance with incremental backup on, as a
process of its own (recorded, revived, stopped like the engine): archiving goes on while the
service restarts, and litestream stays in this process's group, so stopping the group stops
everything. S3 keys come from the environment (`DDS_ARCHIVER_S3_ACCESS_KEY`/`_SECRET_KEY`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from dds.archiver.config import ArchiveConfig, add_replica_arguments, replica_from_arguments
from dds.archiver.sidecar import Sidecar
from dds.core.children import asked_to_stop


def parse(argv: list[str] | None) -> ArchiveConfig:
    p = argparse.ArgumentParser(prog="python -m dds.archiver", description=__doc__)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--state-dir", type=Path, required=True)
    add_replica_arguments(p)
    p.add_argument("--retention-days", type=int, default=7)
    a = p.parse_args(argv)
    return ArchiveConfig(
        data_dir=a.data_dir,
        state_dir=a.state_dir,
        replica=replica_from_arguments(p, a),
        retention=timedelta(days=a.retention_days),
    )


def main(argv: list[str] | None = None) -> int:
    stopping = asked_to_stop()
    config = parse(argv)
    sidecar = Sidecar(config, own_group=False)
    sidecar.start()
    try:
        stopping.wait()
    finally:
        sidecar.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
