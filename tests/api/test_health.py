"""Liveness and readiness, without credentials."""

from __future__ import annotations

import httpx

from tests.conftest import Service


def test_liveness_and_readiness(service: Service) -> None:
    r = httpx.get(service.url + "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = httpx.get(service.url + "/health/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"metadata": True, "workers": True, "supervisor": True, "scheduler": True}


def test_not_ready_when_the_workers_stop(make_service: object) -> None:
    svc = make_service()  # type: ignore[operator]
    svc.server.workers.stop(timeout=10)
    r = httpx.get(svc.url + "/health/ready")
    assert r.status_code == 503 and r.json()["checks"]["workers"] is False, r.text
    assert httpx.get(svc.url + "/health").status_code == 200
