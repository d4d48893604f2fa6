"""Shared fixtures: a real service (real HTTP, real engine processes) per test session."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dds.core.clock import Clock
from dds.core.settings import Settings
from dds.parts import Parts
from dds.server import Server
from dds.services import iam
from tests.helpers import ROOT, free_port, free_range, instance_body

__all__ = ["PASSWORD", "ROOT", "Service"]

PASSWORD = "Test#Pass_01"


@dataclass
class Service:
    """A running service the tests reach over real HTTP."""

    url: str
    server: Server
    project_id: str
    token: str
    clock: Clock

    @property
    def parts(self) -> Parts:
        return self.server.parts

    def client(self, **headers: str) -> httpx.Client:
        h = {"X-Auth-Token": self.token, **headers}
        return httpx.Client(base_url=self.url, headers=h, timeout=60)

    def path(self, rest: str) -> str:
        return f"/v3/{self.project_id}{rest}"

    def wait_job(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while time.monotonic() < deadline:
                r = c.get(self.path("/jobs"), params={"id": job_id})
                assert r.status_code == 200, r.text
                job = r.json()["job"]
                if job["status"] != "Running":
                    return job  # type: ignore[no-any-return]
                time.sleep(0.1)
        raise AssertionError(f"job {job_id} still running after {timeout}s")

    def create_instance(self, name: str, mode: str = "ReplicaSet", size: str = "10", **extra: Any) -> dict[str, Any]:
        body = {**instance_body(name, PASSWORD, mode=mode, size=size), **extra}
        with self.client() as c:
            r = c.post(self.path("/instances"), json=body)
        assert r.status_code == 202, r.text
        return r.json()  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def ready_instance(self, name: str, **extra: Any) -> Iterator[dict[str, Any]]:
        """An instance created and `normal` for the block (a module's shared fixture), deleted after."""
        created = self.create_instance(name, **extra)
        assert self.wait_job(created["job_id"])["status"] == "Completed"
        yield self.instance(created["id"])
        self.delete_instance(created["id"])

    def instance(self, instance_id: str) -> dict[str, Any]:
        with self.client() as c:
            r = c.get(self.path("/instances"), params={"id": instance_id})
        assert r.status_code == 200, r.text
        items = r.json()["instances"]
        assert len(items) == 1, items
        return items[0]  # type: ignore[no-any-return]

    def delete_instance(self, instance_id: str) -> None:
        with self.client() as c:
            r = c.delete(self.path(f"/instances/{instance_id}"))
        assert r.status_code == 202, r.text
        assert self.wait_job(r.json()["job_id"])["status"] == "Completed"


def test_settings(data_dir: Path, **overrides: Any) -> Settings:
    # The scheduler is off unless a test asks for it (with a moved clock): on the real clock a
    # run across a backup window would back up long-lived instances mid-test.
    return Settings(
        **{
            "data_dir": data_dir,
            "port": free_port(),
            "port_range": free_range(),
            "supervise_interval": 0.3,
            "scheduler_interval": 3600.0,
            **overrides,
        }
    )


def run_service(settings: Settings) -> tuple[Service, Any]:
    """Start an in-process service (uvicorn on a real port); returns it and its stopper."""
    clock = Clock()
    service = Server(settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(service.app(), host="127.0.0.1", port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "service did not start"
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(60)

    url = f"http://127.0.0.1:{settings.port}"
    return Service(url, service, iam.demo_project_id(service.parts), settings.dev_token, clock), stop


@pytest.fixture
def make_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory for services with their own settings; all stopped at teardown."""
    stoppers: list[Any] = []

    def start(**overrides: Any) -> Service:
        svc, stop = run_service(test_settings(tmp_path_factory.mktemp("dds"), **overrides))
        stoppers.append(stop)
        return svc

    yield start
    for stop in stoppers:
        stop()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One shared service for tests that need no special settings."""
    svc, stop = run_service(test_settings(tmp_path_factory.mktemp("dds-shared")))
    yield svc
    stop()


@pytest.fixture(scope="module")
def pg_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service of the test module's own whose replica sets run on PostgreSQL storage."""
    svc, stop = run_service(test_settings(tmp_path_factory.mktemp("dds-pg"), replica_set_storage="postgresql"))
    yield svc
    stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """A real S3-compatible server (moto in server mode) on 127.0.0.1; settings overrides to use it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield {
        "backup_store": "s3",
        "s3_endpoint_url": f"http://127.0.0.1:{port}",
        "s3_bucket": "dds-test-backups",
        "s3_access_key": "testing",
        "s3_secret_key": "testing",
        "s3_region": "us-east-1",
    }
    server.stop()


@pytest.fixture(scope="session")
def other_tenant(service: Service) -> Any:
    """A second project on the shared service, with an AK/SK pair and a password user
    (`tests.iam_helpers.Tenant`: `.token_client()`, `.path()`, signed requests via `iam_helpers.signed`)."""
    from tests.iam_helpers import add_tenant

    return add_tenant(service, "other-tenant")


_TIERS = ("unit", "api", "cli", "browser", "acceptance", "crash", "fuzz", "quickstart", "bench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its tier, the folder it lives in: `pytest -m unit` runs the fast tier alone."""
    for item in items:
        tier = item.path.parent.name
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))
