"""Metrics, access and job logs, offline docs, and the errors a new user meets first."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, Service
from tests.helpers import wait_for


def _samples(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(service.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):  # the Prometheus text parser
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[Any, float], metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def test_metrics_parse_and_move_with_requests_and_jobs(service: Service) -> None:
    route = "/v3/{project_id}/flavors"
    before = _samples(service)
    with service.client() as api:
        for _ in range(3):
            assert api.get(service.path("/flavors")).status_code == 200
        created = service.create_instance("metrics-1")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    done = {"name": "CreateMongoDB", "status": "Completed"}
    counted = _value(before, "dds_job_events_total", **done) + 1  # counted just after the job's commit
    wait_for(lambda: _value(_samples(service), "dds_job_events_total", **done) >= counted, 10, "the job counted")
    after = _samples(service)
    key = {"method": "GET", "route": route, "status": "200"}
    assert _value(after, "dds_http_requests_total", **key) - _value(before, "dds_http_requests_total", **key) == 3
    count = _value(after, "dds_http_request_duration_seconds_count", method="GET", route=route)
    assert count - _value(before, "dds_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert _value(after, "dds_job_events_total", **done) == counted
    assert _value(after, "dds_jobs", **done) == _value(before, "dds_jobs", **done) + 1
    assert _value(after, "dds_engines", state="up") >= 1
    service.delete_instance(created["id"])


def test_metrics_token_when_set(make_service: Any) -> None:
    svc: Service = make_service(metrics_token="scrape-me-0123")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me-0123"}):
        r = httpx.get(svc.url + "/metrics", headers=headers)
        assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", (headers, r.text)
    r = httpx.get(svc.url + "/metrics", headers={"Authorization": "Bearer scrape-me-0123"})
    assert r.status_code == 200 and "dds_http_requests_total" in r.text
    assert httpx.get(svc.url + "/health").status_code == 200  # liveness stays open


def test_access_log_and_job_events_are_logged(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        with service.client() as api:
            api.get(service.path("/flavors"))
        created = service.create_instance("logged-1")
        service.wait_job(created["job_id"])

        def access() -> list[logging.LogRecord]:  # written in batches by the access log's thread
            return [r for r in caplog.records if r.name == "dds.access" and "/flavors" in r.getMessage()]

        def jobs() -> set[tuple[str, str]]:  # logged just after each state's commit
            records = [r for r in caplog.records if getattr(r, "event", "") == "job"]
            return {(getattr(r, "job_id", ""), getattr(r, "status", "")) for r in records}

        wait_for(access, 10, "the access log line")
        wait_for(lambda: {(created["job_id"], "Running"), (created["job_id"], "Completed")} <= jobs(), 10, "job lines")
    first = access()[0]
    assert getattr(first, "status", None) == 200 and getattr(first, "route", "").endswith("/flavors")
    service.delete_instance(created["id"])


def test_access_log_lines_in_batches(tmp_path: Any) -> None:
    from dds.api.observe import AccessLog

    for fmt in ("text", "json"):
        sink = (tmp_path / f"access.{fmt}").open("w+")
        log = AccessLog(sink, fmt, interval=0.05)
        log.start()
        log.add("GET", "/v3/p/instances", "/v3/{project_id}/instances", 200, 0.0123, "127.0.0.1")
        log.stop()
        sink.seek(0)
        line = sink.read()
        assert line.count("\n") == 1 and "GET /v3/p/instances 200 12.3ms" in line
        if fmt == "json":
            assert json.loads(line)["route"] == "/v3/{project_id}/instances"


def test_json_log_lines() -> None:
    from dds.cli.logfmt import JsonFormatter

    record = logging.LogRecord("dds.access", logging.INFO, __file__, 1, "GET %s %d", ("/x", 200), None)
    record.route, record.status = "/x", 200
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["route"], line["status"], line["level"]) == ("GET /x 200", "/x", 200, "INFO")


def test_docs_work_offline(service: Service) -> None:
    page = httpx.get(service.url + "/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = httpx.get(f"{service.url}/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000
    assert httpx.get(service.url + "/openapi.json").json()["info"]["title"] == "Document Database Service"


@pytest.mark.parametrize("path", ["/redoc", "/nothing/here", "/v3/x/y/z/w/q"])
def test_unknown_paths_are_a_plain_not_found(service: Service, path: str) -> None:
    r = httpx.get(service.url + path)
    assert r.status_code == 404 and r.json() == {
        "error_code": "DBS.280016",
        "error_msg": "The requested URL was not found.",
    }
    assert "version" not in httpx.get(service.url + "/health/x").text.lower()


def test_unknown_api_version_is_named(service: Service) -> None:
    r = httpx.get(service.url + "/v9")
    assert r.status_code == 404 and "API version v9" in r.json()["error_msg"]


@pytest.mark.parametrize(
    ("headers", "said"),
    [({}, "no Content-Type was sent"), ({"Content-Type": "text/plain"}, "got 'text/plain'")],
)
def test_body_without_json_content_type_gets_a_clear_error(
    service: Service, headers: dict[str, str], said: str
) -> None:
    body = json.dumps({"backup": {"instance_id": "x", "name": "n"}}).encode()
    with service.client() as api:
        r = api.post(service.path("/backups"), content=body, headers=headers)
    assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"
    assert "Content-Type: application/json" in r.json()["error_msg"] and said in r.json()["error_msg"]


def test_clean_restart_does_not_warn(tmp_path: Any) -> None:
    """Start, create an instance, stop cleanly (SIGTERM), start again: the instance comes back,
    nothing is logged at WARNING or above, and no alembic chatter."""
    from tests.conftest import PASSWORD
    from tests.helpers import ServiceProcess, instance_body, wait_job

    data = tmp_path / "var"
    data.mkdir()
    first = ServiceProcess(data)
    first.start()
    try:
        api = httpx.Client(
            base_url=f"{first.url}/v3/{first.project()}", headers={"X-Auth-Token": "dds-dev-token"}, timeout=60
        )
        created = api.post("/instances", json=instance_body("restart-1", PASSWORD)).json()
        assert wait_job(api, created["job_id"])["status"] == "Completed"
    finally:
        first.stop()
    (data / "service.log").unlink()
    second = ServiceProcess(data)
    second.env["DDS_LOG_FORMAT"] = "json"
    second.port = first.port
    second.env["DDS_PORT"] = first.env["DDS_PORT"]
    second.url = first.url
    second.start()
    try:
        api = httpx.Client(
            base_url=f"{second.url}/v3/{second.project()}", headers={"X-Auth-Token": "dds-dev-token"}, timeout=60
        )
        deadline = time.monotonic() + 30
        while api.get("/instances", params={"id": created["id"]}).json()["instances"][0]["status"] != "normal":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.0)  # a few supervisor ticks
    finally:
        second.stop()
    log = (data / "service.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    assert not [x for x in lines if x["level"] in ("WARNING", "ERROR", "CRITICAL")], log
    assert any("started 1 node(s)" in x["message"] for x in lines), log
    assert not any(x["logger"].startswith("alembic") for x in lines), log
    # `dds serve` writes the access log in batches off the event loop: every request is there.
    reads = [x for x in lines if x["logger"] == "dds.access" and x["route"] == "/v3/{project_id}/instances"]
    assert reads and all(x["status"] == 200 and x["method"] == "GET" for x in reads), log


def test_cli_help_lists_the_client_groups() -> None:
    out = subprocess.run([sys.executable, "-m", "dds.cli.main", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "serve" in out.stdout and "admin" in out.stdout
