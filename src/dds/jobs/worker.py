"""Worker threads: claim a job, run its remaining steps, record the outcome."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from dds.db.models import Job
from dds.domain.states import JobStatus
from dds.errors import DDSError
from dds.jobs.kinds import KINDS, JobContext, JobKind
from dds.jobs.store import claim

if TYPE_CHECKING:
    from dds.runtime import Runtime

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY = 10.0  # seconds; a running job's owner proves it is alive this often


def wall() -> datetime:
    """Real UTC time for heartbeats: tests move the service clock by days, which must not
    make a running job look abandoned."""
    return datetime.now(UTC).replace(tzinfo=None)


class WorkerPool:
    """A few threads sharing one queue in the metadata store."""

    def __init__(self, runtime: Runtime, threads: int) -> None:
        self.runtime = runtime
        self.owner = f"worker-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"dds-worker-{i}", daemon=True) for i in range(threads)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def wake(self) -> None:
        """Called after a commit that enqueued a job, so it starts at once."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except Exception:  # a bug in the loop itself must not kill the thread
                log.exception("worker loop error")
                ran = False
            if not ran:
                self._wake.wait(0.5)
                self._wake.clear()

    def run_one(self) -> bool:
        rt = self.runtime
        with rt.db.session() as s:
            job = claim(s, self.owner, wall(), STALE_AFTER)
            if job is None:
                return False
            job_id, name, attempts = job.id, job.name, job.attempts
            ctx_payload, instance_id, start_step = dict(job.payload), job.instance_id, job.step
        kind = KINDS.get(name)
        ctx = JobContext(runtime=rt, job_id=job_id, instance_id=instance_id, payload=ctx_payload)
        if kind is None:
            self._finish(ctx, None, f"unknown job kind {name}")
            return True
        if attempts > rt.settings.job_max_attempts:
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
                with self.runtime.db.session() as s:
                    s.execute(update(Job).where(Job.id == job_id, Job.owner == self.owner).values(heartbeat=wall()))
            except Exception:
                log.exception("heartbeat of job %s failed", job_id)

    def _run_steps(self, ctx: JobContext, kind: JobKind, start_step: int) -> bool:
        rt, job_id = self.runtime, ctx.job_id
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
            with rt.db.session() as s:
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
        rt = self.runtime
        with rt.db.session() as s:
            row = s.get(Job, ctx.job_id)
            assert row is not None
            row.status = JobStatus.FAILED if error else JobStatus.COMPLETED
            row.fail_reason = error or ""
            if not error:
                row.progress = 100
            row.payload = {k: v for k, v in ctx.payload.items() if not k.startswith("_")}
            row.ended = rt.clock.now()
            row.owner = None
