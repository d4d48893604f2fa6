"""The job queue and worker without any engine: a real metadata store (SQLite file), real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dds.core.settings import Settings
from dds.db.models import Job
from dds.domain.states import JobStatus
from dds.jobs import worker
from dds.jobs.queue import enqueue, release_orphans
from dds.jobs.registry import JobContext, JobKind, Registry
from dds.jobs.worker import WorkerPool
from dds.parts import Parts, build_parts


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    built = build_parts(Settings(data_dir=tmp_path, job_max_attempts=2))
    built.db.migrate()
    yield built
    built.db.dispose()


def _enqueue(parts: Parts, name: str, **payload: object) -> str:
    with parts.db.session() as s:
        return enqueue(s, name=name, project_id="p", now=parts.clock.now(), payload=dict(payload)).id


def _job(parts: Parts, job_id: str) -> Job:
    with parts.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _run_all(pool: WorkerPool) -> None:
    while pool.run_one():
        pass


def test_steps_run_in_order_and_payload_is_kept(parts: Parts) -> None:
    seen: list[str] = []

    def first(ctx: JobContext) -> None:
        seen.append("first")
        ctx.payload["carried"] = 41

    def second(ctx: JobContext) -> None:
        seen.append(f"second:{ctx.payload['carried'] + 1}")

    pool = WorkerPool(parts, Registry([JobKind("Two", (first, second))]), threads=1)
    job_id = _enqueue(parts, "Two")
    _run_all(pool)
    job = _job(parts, job_id)
    assert seen == ["first", "second:42"]
    assert (job.status, job.progress, job.step) == (JobStatus.COMPLETED, 100, 2)
    assert job.payload["carried"] == 41


def test_a_failing_step_runs_on_failure_once_and_records_why(parts: Parts) -> None:
    failures: list[str] = []

    def boom(ctx: JobContext) -> None:
        raise RuntimeError("disk on fire")

    kind = JobKind("Boom", (boom,), on_failure=lambda ctx, why: failures.append(why))
    pool = WorkerPool(parts, Registry([kind]), threads=1)
    job_id = _enqueue(parts, "Boom")
    _run_all(pool)
    job = _job(parts, job_id)
    assert job.status == JobStatus.FAILED and "disk on fire" in job.fail_reason
    assert failures == ["RuntimeError: disk on fire"]


def test_a_resumed_job_continues_at_its_step(parts: Parts) -> None:
    """A worker that dies after step 1 leaves the job Running at step 1; the next one starts at step 2."""
    seen: list[str] = []
    crash = {"armed": True}

    def one(ctx: JobContext) -> None:
        seen.append("one")

    def two(ctx: JobContext) -> None:
        if crash["armed"]:
            crash["armed"] = False
            raise KeyboardInterrupt  # stands for the process dying mid-step: no on_failure, no status
        seen.append("two")

    pool = WorkerPool(parts, Registry([JobKind("Resumable", (one, two))]), threads=1)
    job_id = _enqueue(parts, "Resumable")
    with pytest.raises(KeyboardInterrupt):
        pool.run_one()
    assert _job(parts, job_id).step == 1
    with parts.db.session() as s:
        assert release_orphans(s) == 1  # what a restarted service does first
    _run_all(pool)
    assert seen == ["one", "two"]
    assert _job(parts, job_id).status == JobStatus.COMPLETED


def test_too_many_attempts_fail_the_job(parts: Parts) -> None:
    pool = WorkerPool(parts, Registry([JobKind("Flaky", (lambda ctx: None,))]), threads=1)
    job_id = _enqueue(parts, "Flaky")
    with parts.db.session() as s:
        s.get(Job, job_id).attempts = 2  # type: ignore[union-attr]
    _run_all(pool)
    job = _job(parts, job_id)
    assert job.status == JobStatus.FAILED and "interrupted too many times" in job.fail_reason


def test_an_unknown_kind_fails_instead_of_looping(parts: Parts) -> None:
    pool = WorkerPool(parts, Registry(), threads=1)
    job_id = _enqueue(parts, "NoSuchKind")
    _run_all(pool)
    assert _job(parts, job_id).status == JobStatus.FAILED


def test_a_kind_registered_twice_is_refused() -> None:
    kind = JobKind("Once", ())
    with pytest.raises(ValueError):
        Registry([kind, kind])


def test_long_step_keeps_its_claim(parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three workers, one step three times longer than the stale limit: it runs exactly once."""
    # Heartbeats every 0.1 s, stale after 2 s: a loaded machine delaying one beat must not look
    # like an abandoned job (which is what the test would then report).
    monkeypatch.setattr(worker, "STALE_AFTER", timedelta(seconds=2))
    monkeypatch.setattr(worker, "HEARTBEAT_EVERY", 0.1)
    runs: list[str] = []
    lock = threading.Lock()

    def slow(ctx: JobContext) -> None:
        with lock:
            runs.append(threading.current_thread().name)
        time.sleep(6)

    parts.clock.advance(timedelta(days=3))  # a moved service clock must not make the job look abandoned
    pool = WorkerPool(parts, Registry([JobKind("Slow", (slow,))]), threads=3)
    job_id = _enqueue(parts, "Slow")
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while _job(parts, job_id).status == JobStatus.RUNNING:
            assert time.monotonic() < deadline, "the slow job did not finish"
            time.sleep(0.05)
    finally:
        pool.stop()
    assert _job(parts, job_id).status == JobStatus.COMPLETED
    assert len(runs) == 1, f"the step ran {len(runs)} times: {runs}"
