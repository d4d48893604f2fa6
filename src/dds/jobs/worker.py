"""Worker threads: claim a job, run its remaining steps, record the outcome."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import update

from dds.core.errors import DDSError
from dds.db.models import Job
from dds.domain.states import JobStatus, transition
from dds.jobs.queue import claim
from dds.jobs.registry import JobContext, JobKind, Registry
from dds.parts import Parts

log = logging.getLogger(__name__)
# One count per job state change (Running when a worker takes it up, then Completed or Failed).
JOB_EVENTS = Counter("dds_job_events_total", "Job state changes by job kind and status", ["name", "status"])

STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY = 10.0  # seconds; a running job's owner proves it is alive this often


def wall() -> datetime:
    """Real UTC time for heartbeats: tests move the service clock by days, which must not
    make a running job look abandoned."""
    return datetime.now(UTC).replace(tzinfo=None)


class WorkerPool:
    """A few threads sharing one queue in the metadata store."""

    def __init__(self, parts: Parts, registry: Registry, threads: int) -> None:
        self.parts = parts
        self.registry = registry
        self.owner = f"worker-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"dds-worker-{i}", daemon=True) for i in range(threads)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def alive(self) -> bool:
        """Every worker thread runs (readiness)."""
        return all(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.parts.wakeup.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except Exception:  # a bug in the loop itself must not kill the thread
                log.exception("worker loop error")
                ran = False
            if not ran:
                self.parts.wakeup.wait(0.5)

    def run_one(self) -> bool:
        parts = self.parts
        with parts.db.session() as s:
            job = claim(s, self.owner, wall(), STALE_AFTER)
            if job is None:
                return False
            job_id, name, attempts = job.id, job.name, job.attempts
            ctx_payload, instance_id, start_step = dict(job.payload), job.instance_id, job.step
        JOB_EVENTS.labels(name, "Running").inc()
        log.info(
            "job %s %s Running (instance %s, step %d, attempt %d)",
            job_id,
            name,
            instance_id or "-",
            start_step,
            attempts,
            extra={"event": "job", "job_id": job_id, "job": name, "status": "Running", "instance_id": instance_id},
        )
        kind = self.registry.get(name)
        ctx = JobContext(parts=parts, job_id=job_id, instance_id=instance_id, payload=ctx_payload)
        if kind is None:
            self._finish(ctx, None, f"unknown job kind {name}")
            return True
        if attempts > parts.settings.job_max_attempts:
            self._finish(ctx, kind, "The job was interrupted too many times and was stopped.")
            return True
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, done), name=f"dds-beat-{job_id[:8]}", daemon=True)
        beat.start()
        try:
            return self._run_steps(ctx, kind, start_step)
        finally:
            done.set()
            beat.join()

    def _heartbeat(self, job_id: str, done: threading.Event) -> None:
        """Keeps the claim fresh while a long step (a big dump or restore) runs."""
        while not done.wait(HEARTBEAT_EVERY):
            try:
                with self.parts.db.session() as s:
                    s.execute(update(Job).where(Job.id == job_id, Job.owner == self.owner).values(heartbeat=wall()))
            except Exception:
                log.exception("heartbeat of job %s failed", job_id)

    def _run_steps(self, ctx: JobContext, kind: JobKind, start_step: int) -> bool:
        parts, job_id = self.parts, ctx.job_id
        total = len(kind.steps)
        for index in range(start_step, total):
            if self._stop.is_set():
                return True  # leave it Running with its step; the next start resumes it
            try:
                kind.steps[index](ctx)
            except DDSError as exc:
                self._finish(ctx, kind, exc.message)
                return True
            except Exception as exc:
                log.error("job %s step %d failed: %s", job_id, index, traceback.format_exc())
                self._finish(ctx, kind, f"{type(exc).__name__}: {exc}")
                return True
            with parts.db.session() as s:
                row = s.get(Job, job_id)
                assert row is not None
                row.step = index + 1
                row.progress = int(100 * (index + 1) / total)
                row.payload = ctx.payload
                row.heartbeat = wall()
        self._finish(ctx, kind, None)
        return True

    def _finish(self, ctx: JobContext, kind: JobKind | None, error: str | None) -> None:
        if error is not None and kind is not None and kind.on_failure is not None:
            try:
                kind.on_failure(ctx, error)
            except Exception:
                log.exception("on_failure of job %s failed", ctx.job_id)
        parts = self.parts
        with parts.db.session() as s:
            row = s.get(Job, ctx.job_id)
            assert row is not None
            transition(row, JobStatus.FAILED if error else JobStatus.COMPLETED)
            row.fail_reason = error or ""
            if not error:
                row.progress = 100
            row.payload = {k: v for k, v in ctx.payload.items() if not k.startswith("_")}
            row.ended = parts.clock.now()
            row.owner = None
            name, status = row.name, JobStatus.FAILED if error else JobStatus.COMPLETED
        JOB_EVENTS.labels(name, str(status)).inc()
        log.log(
            logging.WARNING if error else logging.INFO,
            "job %s %s %s%s",
            ctx.job_id,
            name,
            status,
            f": {error}" if error else "",
            extra={
                "event": "job",
                "job_id": ctx.job_id,
                "job": name,
                "status": str(status),
                "instance_id": ctx.instance_id,
            },
        )
