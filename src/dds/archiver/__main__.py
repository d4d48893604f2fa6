"""`python -m dds.archiver --data-dir D --state-dir S (--replica-dir R | --s3-bucket B ...)`: archive one node.

The service runs one of these per node of an instance with incremental backup on, as a
process of its own (recorded, revived, stopped like the engine): archiving goes on while the
service restarts, and litestream stays in this process's group, so stopping the group stops
everything. S3 keys come from the environment (`DDS_ARCHIVER_S3_ACCESS_KEY`/`_SECRET_KEY`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from dds.archiver.config import ArchiveConfig, DirReplica, ReplicaTarget, S3Replica
from dds.archiver.sidecar import Sidecar


def parse(argv: list[str] | None) -> ArchiveConfig:
    p = argparse.ArgumentParser(prog="python -m dds.archiver", description=__doc__)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--replica-dir", type=Path)
    p.add_argument("--s3-bucket")
    p.add_argument("--s3-prefix", default="")
    p.add_argument("--s3-endpoint", default="")
    p.add_argument("--s3-region", default="us-east-1")
    p.add_argument("--retention-days", type=int, default=7)
    a = p.parse_args(argv)
    replica: ReplicaTarget
    if a.replica_dir is not None:
        replica = DirReplica(a.replica_dir)
    elif a.s3_bucket:
        replica = S3Replica(
            bucket=a.s3_bucket,
            prefix=a.s3_prefix,
            endpoint=a.s3_endpoint,
            region=a.s3_region,
            access_key=os.environ.get("DDS_ARCHIVER_S3_ACCESS_KEY", ""),
            secret_key=os.environ.get("DDS_ARCHIVER_S3_SECRET_KEY", ""),
        )
    else:
        p.error("one of --replica-dir or --s3-bucket is required")
    return ArchiveConfig(
        data_dir=a.data_dir, state_dir=a.state_dir, replica=replica, retention=timedelta(days=a.retention_days)
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse(argv)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    sidecar = Sidecar(config, own_group=False)
    sidecar.start()
    try:
        stopping.wait()
    finally:
        sidecar.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
