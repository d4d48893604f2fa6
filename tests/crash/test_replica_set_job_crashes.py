"""Crash trials for the job kinds of replica sets on PostgreSQL storage (`DDS_REPLICA_SET_STORAGE=
postgresql`): switchover, promotion, rolling restart and resize, two more members and back, a read
replica added and deleted. The service is killed with SIGKILL at a fixed point after the request
and started again on the same data directory; the job must end Completed, the instance `normal`
with the members the job promised (one primary), every member's engine and gateway running once,
and the data whole. `DDS_CRASH_DELAYS` widens the set (`make crash`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.crash.test_job_crashes import Trial
from tests.helpers import connect, engine_pids, gateway_pids, wait_for

pytestmark = pytest.mark.skipif(shutil.which("pg_autoctl") is None, reason="pg_auto_failover is not installed")

DELAYS = [float(d) for d in os.environ.get("DDS_CRASH_DELAYS", "0.6").split(",")]
DOCS = [{"_id": i} for i in range(500)]


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    t = Trial(tmp_path_factory.mktemp("crash-rs"), {"DDS_REPLICA_SET_STORAGE": "postgresql"})
    try:
        yield t
    finally:
        t.svc.stop()
    assert engine_pids(t.svc.data_dir) == set() and gateway_pids(t.svc.data_dir) == set()


@pytest.fixture(scope="module")
def rs(trial: Trial) -> str:
    return trial.create("crash-pg-rs", DOCS)


def _nodes(t: Trial, iid: str) -> list[dict[str, Any]]:
    return [n for g in t.instance(iid)["groups"] for n in g["nodes"]]


def _settled(t: Trial, iid: str, roles: list[str]) -> None:
    """Normal, the members the job promised, one engine and one gateway per member, data whole."""
    wait_for(lambda: t.instance(iid)["status"] == "normal", timeout=60, what="the instance normal")
    nodes = _nodes(t, iid)
    assert sorted(n["role"] for n in nodes) == sorted(roles), nodes
    assert all(n["status"] == "normal" for n in nodes), nodes
    root = t.svc.data_dir / "instances" / iid
    assert len(engine_pids(root)) == len(nodes) == len(gateway_pids(root))
    with connect(t.instance(iid), PASSWORD) as client:
        assert client.app.c.count_documents({}) == len(DOCS)


THREE = ["Primary", "Secondary", "Secondary"]
Request = Callable[[Trial, str], tuple[str, str, dict[str, Any]]]


def _crash(t: Trial, iid: str, delay: float, request: Request, roles: list[str]) -> None:
    method, path, body = request(t, iid)
    with t.api() as c:
        r = c.request(method, f"/instances/{iid}/{path}", json=body)
        assert r.status_code in (200, 202), r.text
    job = t.crash_during(r.json()["job_id"], delay)
    assert job["status"] == "Completed", job.get("fail_reason")
    _settled(t, iid, roles)


def _secondary(t: Trial, iid: str) -> str:
    return next(n["id"] for n in _nodes(t, iid) if n["role"] == "Secondary")


def _replica(t: Trial, iid: str) -> str:
    return next(n["id"] for n in _nodes(t, iid) if n["role"] == "ReadOnly")


def _other_spec(t: Trial, iid: str) -> str:
    specs = ("dds.mongodb.s2.large.4.repset", "dds.mongodb.s2.medium.4.repset")
    return specs[0] if _nodes(t, iid)[0]["spec_code"] != specs[0] else specs[1]


KINDS: dict[str, tuple[Request, list[str]]] = {
    "switchover": (lambda t, iid: ("POST", "switchover", {}), THREE),
    "promote": (lambda t, iid: ("POST", f"nodes/{_secondary(t, iid)}/primary", {}), THREE),
    "rolling-restart": (lambda t, iid: ("POST", "restart", {"target_id": iid}), THREE),
    "rolling-resize": (
        lambda t, iid: ("POST", "resize", {"resize": {"target_id": iid, "target_spec_code": _other_spec(t, iid)}}),
        THREE,
    ),
    "enlarge-members": (lambda t, iid: ("POST", "replicaset-node", {"num": 2}), [*THREE, "Secondary", "Secondary"]),
    "shrink-members": (lambda t, iid: ("DELETE", "nodes", {"num": 2}), THREE),
    "add-read-replica": (
        lambda t, iid: ("POST", "readonly-node", {"spec_code": "dds.mongodb.s2.medium.4.rr", "num": 1}),
        [*THREE, "ReadOnly"],
    ),
    "delete-read-replica": (lambda t, iid: ("DELETE", "readonly-node", {"node_list": [_replica(t, iid)]}), THREE),
}


@pytest.mark.parametrize(("delay", "kind"), [(d, k) for d in DELAYS for k in KINDS])
def test_replica_set_job_survives_a_crash(trial: Trial, rs: str, kind: str, delay: float) -> None:
    """Kinds run in order on one instance: each leaves what the next starts from."""
    request, roles = KINDS[kind]
    _crash(trial, rs, delay, request, roles)
