"""Shared bits for benchmarks: options (`--small`), percentiles, tables, a service in-process or
in a child process, configured only with the settings the README gives an operator."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import ServiceProcess, free_port, free_range  # noqa: E402

from dds.core.settings import Settings  # noqa: E402

__all__ = ["ROOT", "ServiceProcess", "arguments", "hammer", "pct", "settings", "stop", "table"]


def arguments(
    parser: argparse.ArgumentParser, small: dict[str, Any], argv: list[str] | None = None
) -> argparse.Namespace:
    """A bench's options with `--small` added: `small` holds the sizes of a quick run (tens of
    seconds) that still prints every figure; `make test` runs each bench so (tests/bench), so none
    can rot. Options given on the command line win over `small`; without `--small` nothing changes."""
    sizes = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in small.items())
    parser.add_argument("--small", action="store_true", help=f"a quick run that still prints every figure: {sizes}")
    known, _ = parser.parse_known_args(argv)
    unknown = [name for name in small if not hasattr(known, name)]
    assert not unknown, f"--small sets options the bench does not have: {unknown}"
    if known.small:
        parser.set_defaults(**small)
    return parser.parse_args(argv)


def settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of an in-process service, as an operator would give them (README, Configuration):
    its own port and port range, no automated backups during the run; everything else from the
    environment or the defaults (the engine binary included)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "port": free_port(),
        "port_range": free_range(),
        "supervise_interval": 0.3,
        "scheduler_interval": 3600.0,
    }
    return Settings(**{**values, **overrides})


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


async def hammer(
    url: str, path: str, headers: Callable[[str], dict[str, str]], clients: int, total: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = total

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            r = await client.get(path, headers=headers(path))
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(min(clients, 5))))  # warm up connections
        remaining = total
        latencies.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - t0, latencies


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a child the bench started, by its PID: SIGTERM, then SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
