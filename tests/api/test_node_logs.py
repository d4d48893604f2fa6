"""Slow log, error log, connection statistics and sessions through the API, from what the node's
gateway really recorded while a pymongo client worked."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import connect


@pytest.fixture(scope="module")
def inst(service: Service) -> Any:
    created = service.create_instance("logs-1")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    yield service.instance(created["id"])
    service.delete_instance(created["id"])


def _poll(fetch: Any, ok: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if ok(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_slow_and_error_logs(service: Service, inst: Any) -> None:
    with connect(inst, PASSWORD) as client:
        client.shop.items.insert_many([{"i": i, "pad": "secret-value-" * 10} for i in range(20000)])  # slow
        with pytest.raises(OperationFailure):
            client.shop.command("noSuchCommand")
    with service.client() as c:
        path = service.path(f"/instances/{inst['id']}/slowlog")
        r = c.get(path, params={"start_date": "2020-01-01T00:00:00+0000", "end_date": "2099-01-01T00:00:00+0000"})
        assert r.status_code == 200, r.text
        body = r.json()
        inserts = [s for s in body["slow_log_list"] if s["type"] == "INSERT" and s["database"] == "shop"]
        assert inserts and body["total_record"] >= len(inserts), body
        assert "secret-value" not in inserts[0]["query_sample"]  # literal values are redacted
        queries = c.get(path, params={"type": "QUERY"}).json()["slow_log_list"]
        assert all(q["type"] == "QUERY" for q in queries), queries
        r = c.get(path, params={"start_date": "not-a-date"})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", r.text
        errors = c.get(service.path(f"/instances/{inst['id']}/errorlog")).json()
        assert any("noSuchCommand" in e["content"] for e in errors["error_log_list"]), errors


def test_connection_statistics_and_sessions(service: Service, inst: Any) -> None:
    node = inst["groups"][0]["nodes"][0]["id"]
    with connect(inst, PASSWORD) as client, service.client() as c:
        client.admin.command("ping")
        stats = _poll(
            lambda: c.get(service.path(f"/instances/{inst['id']}/conn-statistics")).json(),
            lambda s: s["total_connections"] >= 1,
        )
        assert stats["total_outer_connections"] >= 1 and stats["total_inner_connections"] == 0, stats
        assert any(x["client_ip"] == "127.0.0.1" and x["count"] >= 1 for x in stats["outer_connections"]), stats

        done = threading.Event()

        def long_write() -> None:
            with connect(inst, PASSWORD) as other:
                other.shop.big.insert_many([{"i": i, "pad": "x" * 100} for i in range(120000)])
            done.set()

        worker = threading.Thread(target=long_write)
        worker.start()
        seen = _poll(
            lambda: c.get(service.path(f"/nodes/{node}/sessions")).json(),
            lambda s: any(x["namespace"] == "shop.big" for x in s["sessions"]) or done.is_set(),
            timeout=30,
        )
        worker.join(120)
        assert any(x["namespace"] == "shop.big" and x["operation"] == "insert" for x in seen["sessions"]), seen
        r = c.get(service.path("/nodes/" + "0" * 36 + "/sessions"))
        assert r.status_code == 404, r.text


def test_killing_a_session_ends_its_operation(service: Service, inst: Any) -> None:
    node = inst["groups"][0]["nodes"][0]["id"]
    outcome: dict[str, Any] = {}

    def long_write() -> None:
        try:
            with connect(inst, PASSWORD) as other:
                other.shop.killed.insert_many([{"i": i, "pad": "x" * 100} for i in range(400000)])
            outcome["result"] = "finished"
        except Exception as exc:  # noqa: BLE001 - the connection is closed under it
            outcome["result"] = type(exc).__name__

    worker = threading.Thread(target=long_write)
    worker.start()
    with service.client() as c:
        seen = _poll(
            lambda: c.get(service.path(f"/nodes/{node}/sessions")).json(),
            lambda s: any(x["namespace"] == "shop.killed" for x in s["sessions"]) or "result" in outcome,
            timeout=60,
        )
        ids = [x["id"] for x in seen["sessions"] if x["namespace"] == "shop.killed"]
        assert ids, (seen, outcome)
        r = c.post(service.path(f"/nodes/{node}/session"), json={"sessions": ids})
        assert r.status_code == 200 and r.json() == {}, r.text
        worker.join(120)
        assert outcome["result"] != "finished", outcome  # the client saw its connection closed
        gone = _poll(
            lambda: c.get(service.path(f"/nodes/{node}/sessions")).json(),
            lambda s: not any(x["namespace"] == "shop.killed" for x in s["sessions"]),
        )
        assert not any(x["namespace"] == "shop.killed" for x in gone["sessions"]), gone
        r = c.post(service.path(f"/nodes/{node}/session"), json={"sessions": ["999999"]})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", r.text
