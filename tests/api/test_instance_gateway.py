"""Every instance node is served by its gateway: the client port is the gateway's, the engine
listens on a private loopback port, and both processes are supervised."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from pymongo import MongoClient, WriteConcern
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import connect, engine_pids, gateway_pids


def _node_row(service: Service, instance_id: str) -> tuple[str, int, str, int]:
    from dds.db.models import Node  # the metadata store is the only place the engine port is written

    with service.parts.db.session() as s:
        node = s.query(Node).filter(Node.instance_id == instance_id).one()
        return node.host, node.port, node.engine_host, node.engine_port


def _wait_normal_with(service: Service, instance_id: str, pids: set[int], find: object) -> set[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = find(service.parts.settings.instances_dir / instance_id)  # type: ignore[operator]
        if now and now != pids and service.instance(instance_id)["status"] == "normal":
            return now  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("the process was not started again")


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("gw-fleet-1") as inst:
        yield inst


def test_client_port_is_the_gateway_and_engine_is_private(service: Service, instance: dict[str, object]) -> None:
    host, port, engine_host, engine_port = _node_row(service, str(instance["id"]))
    assert engine_host == "127.0.0.1" and engine_port != port
    under = service.parts.settings.instances_dir / str(instance["id"])
    assert len(gateway_pids(under)) == 1 and len(engine_pids(under)) == 1
    with connect(instance, PASSWORD) as client:
        hello = client.admin.command("hello")
        assert hello["me"] == f"{host}:{port}" and hello["hosts"] == [f"{host}:{port}"]
        assert hello["setName"] == "replica" and hello["isWritablePrimary"]
        client.t.c.insert_many([{"i": i} for i in range(300)])
        assert [d["i"] for d in client.t.c.find().sort("i", 1).batch_size(7)] == list(range(300))  # getMore


def test_replica_set_discovery_lands_on_the_gateway(service: Service, instance: dict[str, object]) -> None:
    host, port, _, _ = _node_row(service, str(instance["id"]))
    url = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&replicaSet=replica"
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        client.t.rs.insert_one({"via": "replicaSet"})
        assert client.t.rs.count_documents({}) == 1
        assert client.address == (host, port)


def test_fire_and_forget_writes_do_not_break_the_driver(service: Service, instance: dict[str, object]) -> None:
    with connect(instance, PASSWORD) as client:
        coll = client.t.get_collection("w0", write_concern=WriteConcern(w=0))
        for i in range(10):
            coll.insert_one({"i": i})
        deadline = time.monotonic() + 5
        while client.t.w0.count_documents({}) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.t.w0.count_documents({}) == 10


def test_tenant_cannot_touch_the_service_user(service: Service, instance: dict[str, object]) -> None:
    with connect(instance, PASSWORD) as client:
        info = client.admin.command("usersInfo", {"forAllDBs": True})
        assert "dds_service" not in {u["user"] for u in info["users"]}
        with pytest.raises(OperationFailure):
            client.admin.command("dropUser", "dds_service")
        with pytest.raises(OperationFailure):
            client.admin.command("usersInfo", 1, showCredentials=True)
    # The service still manages the instance (it logs in to the engine directly).
    with service.client() as c:
        r = c.put(service.path(f"/instances/{instance['id']}/reset-password"), json={"user_pwd": PASSWORD})
        assert r.status_code == 200, r.text


def test_engine_port_is_loopback_only(service: Service, instance: dict[str, object]) -> None:
    _, _, _, engine_port = _node_row(service, str(instance["id"]))
    with socket.socket() as s:  # bound to loopback: any non-loopback address of this host is refused
        s.settimeout(1)
        outside = _non_loopback_address()
        if outside is None:
            pytest.skip("this host has no non-loopback IPv4 address to try from")
        assert s.connect_ex((outside, engine_port)) != 0


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by a UDP connect
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else str(addr)


def test_killed_gateway_is_started_again_and_the_engine_keeps_running(
    service: Service, instance: dict[str, object]
) -> None:
    under = service.parts.settings.instances_dir / str(instance["id"])
    engines, gateways = engine_pids(under), gateway_pids(under)
    os.kill(next(iter(gateways)), signal.SIGKILL)
    _wait_normal_with(service, str(instance["id"]), gateways, gateway_pids)
    assert engine_pids(under) == engines  # clients of the engine's data never noticed a restart of it
    with connect(instance, PASSWORD) as client:
        assert client.t.c.count_documents({}) == 300


def test_killed_engine_is_started_again_behind_the_same_gateway(service: Service, instance: dict[str, object]) -> None:
    under = service.parts.settings.instances_dir / str(instance["id"])
    engines, gateways = engine_pids(under), gateway_pids(under)
    os.kill(next(iter(engines)), signal.SIGKILL)
    _wait_normal_with(service, str(instance["id"]), engines, engine_pids)
    assert gateway_pids(under) == gateways
    with connect(instance, PASSWORD) as client:
        assert client.t.c.count_documents({}) == 300


def test_slow_operations_reach_the_node_slow_log(service: Service, instance: dict[str, object]) -> None:
    with connect(instance, PASSWORD) as client:
        # One insert command of 20,000 documents takes the engine well over the DDS default
        # threshold (100 ms); a ping is normally far below it (but on a loaded machine even a
        # ping can take 100 ms: what is asserted is that nothing faster is logged).
        client.t.slow.insert_many([{"i": i, "pad": "x" * 200} for i in range(20000)])
        client.t.command("ping")
    logs = Path(service.parts.settings.instances_dir / str(instance["id"])).glob("*/logs/slow.log")
    records = [json.loads(line) for p in logs for line in p.read_text().splitlines()]
    assert any(r["command"] == "insert" and r["ns"] == "t.slow" for r in records), records
    assert all(r["duration_ms"] >= 100 for r in records), records  # the threshold filters
    assert all("xxxx" not in json.dumps(r) for r in records)  # literal values are redacted


MONGOSH = Path(__file__).resolve().parents[1] / "js" / "node_modules" / ".bin" / "mongosh"


def test_mongosh_works_through_the_gateway(service: Service, instance: dict[str, object]) -> None:
    """The MongoDB shell (npm package `mongosh`, installed by `make test` under tests/js)."""
    host, port, _, _ = _node_row(service, str(instance["id"]))
    url = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
    script = (
        'const t = db.getSiblingDB("shell"); t.m.insertOne({a: 1}); '
        'print("count=" + t.m.countDocuments({})); print("rs=" + rs.status().ok); '
        'print("me=" + db.hello().me)'
    )
    out = subprocess.run(
        [str(MONGOSH), url, "--quiet", "--norc", "--eval", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MONGOSH_DISABLE_TELEMETRY": "1"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "count=1" in out.stdout and "rs=1" in out.stdout and f"me={host}:{port}" in out.stdout, out.stdout
