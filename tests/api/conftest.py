"""The `db` the MongoDB language modules share: a database on an instance of their own, reached
through its gateway with pymongo as a tenant would (`rwuser`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, Service
from tests.helpers import connect


@pytest.fixture(scope="module")
def language_instance(service: Service, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")[:24]
    with service.ready_instance(f"lang-{name}") as inst:
        yield inst


@pytest.fixture(scope="module")
def db(language_instance: dict[str, Any]) -> Iterator[Any]:
    with connect(language_instance, PASSWORD, timeout_ms=20000) as client:
        yield client.testdb


@pytest.fixture
def restart_server(service: Service, language_instance: dict[str, Any]) -> Callable[[], None]:
    """Restart the instance through the API (its engine starts again on the same files)."""

    def restart() -> None:
        with service.client() as c:
            r = c.post(service.path(f"/instances/{language_instance['id']}/restart"), json={})
        assert r.status_code == 202, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"

    return restart
