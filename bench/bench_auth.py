"""What authentication costs: request throughput with AK/SK signing vs a token, side by side.

Against one `dds serve` child process (127.0.0.1 only), the same route
(`GET /v3/{project}/flavors`: auth + no metadata query, so auth dominates)
with the same concurrency, authenticated four ways:

- `none`      `GET /` (API versions, no auth) — the HTTP floor;
- `dev-token` the development token (a constant-time compare);
- `token`     a Keystone token from `POST /v3/auth/tokens` (digest + cached lookup);
- `ak/sk`     every request freshly signed with the Huawei SDK's own signer (SDK-HMAC-SHA256),
              verified by the service (canonical request + HMAC; key lookup cached).

Usage: python -m bench.bench_auth [--clients 20] [--requests 2000] [--rounds 3] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from bench.common import ServiceProcess, arguments, hammer, pct, table
from dds.core.settings import Settings

PASSWORD = "Bench#Pass_01"


def admin(data_dir: Path, *args: str, stdin: str | None = None) -> dict[str, str]:
    env = {**os.environ, "DDS_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "dds.cli.main", "admin", "--create-data-dir", *args, "--output", "json"],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def project_id(data_dir: Path, name: str) -> str:
    with contextlib.closing(sqlite3.connect(data_dir / "meta.db")) as db:
        return str(db.execute("select id from projects where name = ?", (name,)).fetchone()[0])


def signer_for(base: str, ak: str, sk: str, project: str) -> Callable[[str], dict[str, str]]:
    host = base.split("://", 1)[1]
    signer = Signer(BasicCredentials(ak, sk, project))

    def headers(path: str) -> dict[str, str]:
        req = SdkRequest(
            method="GET",
            schema="http",
            host=host,
            resource_path=path,
            query_params=[],
            header_params={"Content-Type": "application/json", "X-Project-Id": project},
            body=b"",
        )
        return dict(signer.sign(req).header_params)

    return headers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3, help="modes interleaved per round; medians reported")
    args = arguments(ap, small={"clients": 5, "requests": 200, "rounds": 1})
    work = Path(tempfile.mkdtemp(prefix="dds-bench-auth-"))
    project_name = f"{Settings().region}_bench"  # project names carry the region, as on the cloud
    svc = ServiceProcess(work)
    try:
        cred = admin(work, "credentials", "create", "--project", project_name)
        admin(
            work,
            "user",
            "create",
            "--project",
            project_name,
            "--name",
            "bench",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        svc.start()
        project = cred["project_id"]
        r = httpx.post(
            f"{svc.url}/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": "bench", "password": PASSWORD, "domain": {"name": "Default"}}},
                    },
                    "scope": {"project": {"name": project_name}},
                }
            },
        )
        r.raise_for_status()
        token = r.headers["X-Subject-Token"]
        demo = project_id(work, Settings().region)  # the default project: the development token's
        flavors = f"/v3/{project}/flavors"
        modes: list[tuple[str, str, Callable[[str], dict[str, str]]]] = [
            ("none (GET /)", "/", lambda _: {}),
            ("dev-token", f"/v3/{demo}/flavors", lambda _: {"X-Auth-Token": "dds-dev-token"}),
            ("token", flavors, lambda _: {"X-Auth-Token": token}),
            ("ak/sk", flavors, signer_for(svc.url, cred["access_key"], cred["secret_key"], project)),
        ]
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in modes}
        for round_ in range(args.rounds):  # interleave, rotating the order, so drift hits every mode alike
            for name, path, headers in modes[round_ % len(modes) :] + modes[: round_ % len(modes)]:
                elapsed, lat = asyncio.run(hammer(svc.url, path, headers, args.clients, args.requests))
                samples[name].append((args.requests / elapsed, pct(lat, 50) * 1000, pct(lat, 99) * 1000))
        results = {name: sorted(runs)[len(runs) // 2] for name, runs in samples.items()}
        base = results["token"][0]
        rows = [("auth", "req/s", "p50 ms", "p99 ms", "vs token")]
        for name, (rps, p50, p99) in results.items():
            rows.append((name, f"{rps:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{rps / base:.2f}x"))
        print(
            f"GET flavors, {args.clients} concurrent clients, {args.requests} requests per mode and round, "
            f"median of {args.rounds} interleaved rounds, 127.0.0.1, {os.cpu_count()} CPUs"
        )
        print(table(rows))
        print(
            f"AK/SK costs {(1 / results['ak/sk'][0] - 1 / base) * 1e6:,.0f} µs more per request than a token "
            f"(throughput ratio ak/sk : token = {results['ak/sk'][0] / base:.2f})"
        )
    finally:
        svc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
