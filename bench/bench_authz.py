"""What role checks cost: the same workload through a gateway with authorization on and one with it off.

One engine (bin/ferretdb) and two gateways in front of it (`python -m dds.gateway`), identical but
for `roles_file`: with it, every command is checked against the user's roles (a custom role that
inherits `readWrite` on the bench database, resolved from the roles file, which is stat'ed per
command); without it, nothing is checked (the gateway before roles existed). Each workload runs
with 1 and N client threads, in ten alternating slices (bench_gateway.compare), so load from
elsewhere on the host falls on both alike. Printed: ops/s, p50, p99 per path and the ratio.

Target: authorization on >= 0.95x the ops/s of authorization off.

Usage: python -m bench.bench_authz [--ops 5000] [--threads 8] [--small]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import MongoClient

from bench.bench_gateway import (
    DOCS,
    ENGINE,
    PASSWORD,
    SERVICE_PASSWORD,
    SERVICE_USER,
    USER,
    compare,
    start_engine,
    start_gateway,
)
from bench.common import arguments, pct, stop, table
from dds.gateway.privileges import CustomRole
from dds.gateway.roles_store import RolesStore

TARGET_RATIO = 0.95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    args = arguments(parser, small={"ops": 400, "threads": 2})
    if not ENGINE.exists():
        raise SystemExit(f"{ENGINE} is missing: run `make setup`")
    base = Path(tempfile.mkdtemp(prefix="bench-authz-"))
    engine, engine_port = start_engine(base)
    gateways: list[subprocess.Popen[bytes]] = []
    try:
        service_uri = f"mongodb://{SERVICE_USER}:{quote_plus(SERVICE_PASSWORD)}@127.0.0.1:{engine_port}/admin"
        with MongoClient[dict[str, Any]](service_uri, directConnection=True) as svc:
            svc.admin.command("createUser", USER, pwd=PASSWORD, roles=[])
            svc.bench.items.insert_many([{"_id": i, "name": f"item-{i}", "qty": i % 17} for i in range(DOCS)])
        roles = RolesStore(base / "authz.json")

        def grant(auth: Any) -> None:
            auth.roles[("benchApp", "admin")] = CustomRole("benchApp", "admin", (), (("readWrite", "bench"),))
            auth.users[("admin", USER)] = (("benchApp", "admin"),)

        roles.change(grant)
        off, off_port = start_gateway(base / "off", engine_port, "auto")
        on, on_port = start_gateway(base / "on", engine_port, "auto", roles_file=str(base / "authz.json"))
        gateways += [off, on]
        time.sleep(0.5)

        rows: list[tuple[str, ...]] = [("workload", "threads", "roles", "ops/s", "p50 ms", "p99 ms", "ratio")]
        ratios: list[float] = []
        for workload in ("ping", "find_one"):
            for threads in (1, args.threads):
                unchecked, checked = compare(off_port, on_port, workload, threads, args.ops)
                ratio = checked.rate / unchecked.rate
                ratios.append(ratio)
                for label, path in (("off", unchecked), ("on", checked)):
                    rows.append(
                        (
                            workload,
                            str(threads),
                            label,
                            f"{path.rate:,.0f}",
                            f"{pct(path.latencies, 50):.3f}",
                            f"{pct(path.latencies, 99):.3f}",
                            f"{ratio:.2f}x" if label == "on" else "",
                        )
                    )
        print(table(rows))
        print()
        print(f"ops per run: {args.ops}; docs: {DOCS}; role: custom, inheriting readWrite@bench")
        print(f"target (on >= {TARGET_RATIO}x off): {'met' if min(ratios) >= TARGET_RATIO else 'MISSED'}")
    finally:
        for proc in (*gateways, engine):
            stop(proc)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
