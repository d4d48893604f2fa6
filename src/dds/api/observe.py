"""What the service tells its operator: Prometheus `/metrics` and one access-log line per request.

The middleware wraps everything (also the instance-list fast path, which answers before routing),
labels requests by route template (never by raw path: ids would explode the label space), and
costs a dict lookup and two clock reads per request. Fleet figures (jobs by kind and status,
engines up, backups) are read at scrape time by a collector, so nothing has to keep them current.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dds.db.backups import Backup
from dds.db.models import Job, Node
from dds.domain.states import BackupStatus
from dds.fleet import nodes
from dds.parts import Parts

access = logging.getLogger("dds.access")


class AccessLog:
    """The access log of `dds serve`: the event loop only appends a tuple; a thread writes the
    lines in batches. (Through `logging`, a line per request cost a third of the read throughput.)"""

    def __init__(self, stream: IO[str], fmt: str, interval: float = 0.2) -> None:
        self.stream, self.fmt, self.interval = stream, fmt, interval
        self.pending: collections.deque[tuple[float, str, str, str, int, float, str]] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dds-access-log", daemon=True)

    def start(self) -> None:
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.flush()

    def add(self, method: str, path: str, route: str, status: int, seconds: float, client: str) -> None:
        self.pending.append((time.time(), method, path, route, status, seconds, client))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        lines = []
        while self.pending:
            lines.append(self.line(*self.pending.popleft()))
        if lines:
            self.stream.write("".join(lines))
            self.stream.flush()

    def line(self, at: float, method: str, path: str, route: str, status: int, seconds: float, client: str) -> str:
        ms = round(seconds * 1000, 2)
        if self.fmt == "json":
            stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
            return (
                json.dumps(
                    {
                        "time": stamp,
                        "level": "INFO",
                        "logger": "dds.access",
                        "message": f"{method} {path} {status} {ms:.1f}ms",
                        "event": "access",
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "ms": ms,
                        "client": client,
                    }
                )
                + "\n"
            )
        stamp = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S,") + f"{int(at * 1000) % 1000:03d}"
        return f"{stamp} INFO dds.access: {method} {path} {status} {ms:.1f}ms\n"


# Set by `dds serve` (cli/logfmt.py); without it (tests, embedding) the lines go through `logging`.
FAST_ACCESS_LOG: AccessLog | None = None

REQUESTS = Counter(
    "dds_http_requests_total", "HTTP requests by method, route template and status", ["method", "route", "status"]
)
LATENCY = Histogram(
    "dds_http_request_duration_seconds",
    "HTTP request latency by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FAST_PATH_ROUTE = "/v3/{project_id}/instances"  # answered before routing (api/fastpath.py)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("dds_fast_path"):
        return FAST_PATH_ROUTE
    return "unmatched"


class ObserveMiddleware:
    """Counts, times and logs every HTTP request (pure ASGI: no per-request task or copy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            route, method = _route_of(scope), scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            fast = FAST_ACCESS_LOG
            if fast is not None:
                client = scope.get("client")
                fast.add(method, scope["path"], route, status, elapsed, client[0] if client else "")
            elif access.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access.info(
                    "%s %s %d %.1fms",
                    method,
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={
                        "event": "access",
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "client": client[0] if client else "",
                    },
                )


class FleetCollector(Collector):
    """Jobs by kind and status, engines up and down, backups: read from the metadata at scrape time."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def collect(self) -> Iterable[Metric]:
        parts = self.parts
        jobs = GaugeMetricFamily("dds_jobs", "Jobs in the metadata store by kind and status", labels=["name", "status"])
        engines = GaugeMetricFamily(
            "dds_engines", "Instance nodes whose engine runs (up) or not (down)", labels=["state"]
        )
        backup_bytes = CounterMetricFamily("dds_backup_bytes", "Bytes of completed backups in the store")
        backup_seconds = GaugeMetricFamily(
            "dds_backup_duration_seconds", "Duration of completed backups", labels=["stat"]
        )
        with parts.db.session() as s:
            for name, status, count in s.execute(
                select(Job.name, Job.status, func.count()).group_by(Job.name, Job.status)
            ):
                jobs.add_metric([name, str(status)], count)
            node_rows = list(s.scalars(select(Node)))
            up = sum(1 for n in node_rows if nodes.engine_pid(parts, n) is not None)
            done = s.execute(
                select(Backup.size_bytes, Backup.begin_time, Backup.end_time).where(
                    Backup.status == BackupStatus.COMPLETED
                )
            ).all()
        engines.add_metric(["up"], up)
        engines.add_metric(["down"], len(node_rows) - up)
        backup_bytes.add_metric([], float(sum(int(size or 0) for size, _, _ in done)))
        durations = [(end - begin).total_seconds() for _, begin, end in done if begin and end]
        backup_seconds.add_metric(["count"], len(durations))
        backup_seconds.add_metric(["sum"], sum(durations))
        backup_seconds.add_metric(["max"], max(durations, default=0.0))
        yield from (jobs, engines, backup_bytes, backup_seconds)


def scrape(parts: Parts) -> bytes:
    """The Prometheus text format: process-wide metrics plus this service's fleet."""
    fleet = CollectorRegistry()
    fleet.register(FleetCollector(parts))
    return generate_latest(REGISTRY) + generate_latest(fleet)
