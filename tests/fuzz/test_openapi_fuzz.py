"""Schema fuzzing of the service's own OpenAPI with schemathesis: every operation, generated
requests against a real service with a real instance and backup to work on. No response may be a
server error, and documented responses must match their schema."""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from dds.api.app import create_app
from tests.conftest import Service

EXAMPLES = int(os.environ.get("DDS_FUZZ_EXAMPLES", "12"))
# Operations that would take the fixtures away from the other cases, or stop the service's work.
_KEEP_FIXTURES = {
    ("DELETE", "/v3/{project_id}/instances/{instance_id}"),
    ("DELETE", "/v3/{project_id}/backups/{backup_id}"),
}


@pytest.fixture(scope="module")
def fixtures(service: Service) -> dict[str, str]:
    created = service.create_instance("fuzz-target")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    with service.client() as c:
        r = c.post(service.path("/backups"), json={"backup": {"instance_id": created["id"], "name": "fuzz-backup"}})
        assert r.status_code == 200, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
    node = service.instance(created["id"])["groups"][0]["nodes"][0]["id"]
    return {
        "instance_id": created["id"],
        "backup_id": r.json()["backup_id"],
        "node_id": node,
        "project_id": service.project_id,
    }


# The schema the running service serves at /openapi.json, built from the same app at import time
# (schemathesis' lazy fixture loader does not run on pytest 9); cases are sent to the real service.
schema = schemathesis.openapi.from_dict(create_app().openapi())


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI is deterministic
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_server_error_and_documented_shapes(case: Any, service: Service, fixtures: dict[str, str]) -> None:
    if (case.method.upper(), case.path) in _KEEP_FIXTURES:
        pytest.skip("would delete the fixtures the other operations work on")
    params = case.path_parameters or {}
    for name in params:
        if name in fixtures:  # existing resources, so generated data reaches the handlers
            params[name] = fixtures[name]
    case.path_parameters = params
    case.call_and_validate(
        base_url=service.url,
        headers={"X-Auth-Token": service.token},
        checks=[not_a_server_error, response_schema_conformance],
    )
