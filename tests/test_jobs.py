"""The job engine: a long step is not taken over by another worker while its owner lives."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from dds.domain.states import JobStatus
from dds.jobs import worker
from dds.jobs.kinds import KINDS, JobContext, JobKind, register
from dds.jobs.store import enqueue
from tests.conftest import Service


def test_long_step_keeps_its_claim(make_service, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(worker, "STALE_AFTER", timedelta(seconds=1))
    monkeypatch.setattr(worker, "HEARTBEAT_EVERY", 0.2)
    runs: list[str] = []
    lock = threading.Lock()

    def slow(ctx: JobContext) -> None:
        with lock:
            runs.append(threading.current_thread().name)
        time.sleep(3)  # three times the stale limit

    register(JobKind("TestSlowStep", (slow,)))
    try:
        svc: Service = make_service(worker_threads=3)
        svc.clock.advance(timedelta(days=3))  # a moved service clock must not make the job look abandoned
        with svc.runtime.db.session() as s:
            job = enqueue(s, name="TestSlowStep", project_id=svc.project_id, now=svc.clock.now())
            job_id = job.id
        assert svc.runtime.workers is not None
        svc.runtime.workers.wake()
        result = svc.wait_job(job_id, timeout=30)
        assert result["status"] == JobStatus.COMPLETED
        assert len(runs) == 1, f"the step ran {len(runs)} times: {runs}"
    finally:
        KINDS.pop("TestSlowStep", None)
