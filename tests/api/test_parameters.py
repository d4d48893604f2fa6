"""Parameter templates and instance parameters: validated, recorded, and really honoured."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import bson
import pytest

from tests.conftest import PASSWORD, Service
from tests.helpers import connect


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("params-1") as inst:
        yield inst


def _params(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in body["parameters"]}


def _template(service: Service, name: str, values: dict[str, str]) -> str:
    with service.client() as api:
        r = api.post(
            service.path("/configurations"),
            json={
                "name": name,
                "description": "made by a test",
                "datastore": {"version": "4.0", "node_type": "replica"},
                "parameter_values": values,
            },
        )
    assert r.status_code == 200, r.text
    return str(r.json()["configuration"]["id"])


def _apply(service: Service, config_id: str, instance: dict[str, Any]) -> None:
    with service.client() as api:
        r = api.put(service.path(f"/configurations/{config_id}/apply"), json={"entity_ids": [instance["id"]]})
    assert r.status_code == 200, r.text
    assert service.wait_job(r.json()["job_id"])["status"] == "Completed"


def _hello(sock: socket.socket) -> bool:
    """One OP_MSG hello on a raw connection: True when the gateway answers it."""
    body = b"\x00\x00\x00\x00\x00" + bson.encode({"hello": 1, "$db": "admin"})
    sock.sendall(struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body)
    try:
        header = sock.recv(16)
    except OSError:
        return False
    return len(header) == 16


def _connections_until_refused(instance: dict[str, Any], most: int) -> int:
    """Open raw connections one by one, each kept open and answered, until the gateway refuses one."""
    port = int(instance["port"])
    host = instance["groups"][0]["nodes"][0]["private_ip"]
    held: list[socket.socket] = []
    try:
        for _ in range(most):
            sock = socket.create_connection((host, port), timeout=3)
            if not _hello(sock):
                sock.close()
                return len(held)
            held.append(sock)
        return len(held)
    finally:
        for s in held:
            s.close()


def test_defaults_are_listed_and_read_only(service: Service) -> None:
    with service.client() as api:
        listed = api.get(service.path("/configurations")).json()
        defaults = [c for c in listed["configurations"] if not c["user_defined"]]
        assert {(c["datastore_version"], c["node_type"]) for c in defaults} >= {("4.0", "replica"), ("4.0", "single")}
        default_id = next(c["id"] for c in defaults if c["datastore_version"] == "4.0" and c["node_type"] == "replica")
        shown = _params(api.get(service.path(f"/configurations/{default_id}")).json())
        assert shown["operationProfiling.slowOpThresholdMs"]["value"] == "100"
        assert shown["net.maxIncomingConnections"]["restart_required"] is False
        assert shown["storage.cacheSizeMB"]["restart_required"] is True
        assert "Honoured" in shown["net.maxIncomingConnections"]["description"]
        assert "not applied" in shown["cursorTimeoutMillis"]["description"]
        r = api.put(
            service.path(f"/configurations/{default_id}"), json={"parameter_values": {"cursorTimeoutMillis": "700000"}}
        )
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.212003"
        r = api.delete(service.path(f"/configurations/{default_id}"))
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.212003"


def test_max_incoming_connections_is_enforced(service: Service, instance: dict[str, Any]) -> None:
    config_id = _template(service, "five-conns", {"net.maxIncomingConnections": "5"})
    _apply(service, config_id, instance)
    assert _connections_until_refused(instance, 8) == 5  # the sixth is refused by the gateway
    with service.client() as api:
        applied = api.get(service.path(f"/configurations/{config_id}/applied-histories")).json()
        assert applied["total_count"] == 1 and applied["histories"][0]["apply_result"] == "SUCCESS"
        assert applied["histories"][0]["instance_id"] == instance["id"]
        r = api.put(
            service.path(f"/instances/{instance['id']}/configurations"),
            json={"entity_id": instance["id"], "parameter_values": {"net.maxIncomingConnections": "default"}},
        )
        assert r.status_code == 200 and r.json()["restart_required"] is False, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
    assert _connections_until_refused(instance, 8) == 8
    with service.client() as api:  # a template in use cannot be deleted
        r = api.delete(service.path(f"/configurations/{config_id}"))
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.212032"


def test_slow_op_threshold_zero_logs_every_command(service: Service, instance: dict[str, Any]) -> None:
    with service.client() as api:
        r = api.put(
            service.path(f"/instances/{instance['id']}/configurations"),
            json={"entity_id": instance["id"], "parameter_values": {"operationProfiling.slowOpThresholdMs": "0"}},
        )
        assert r.status_code == 200, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        marker = f"params_marker_{int(time.time() * 1000)}"
        with connect(instance, PASSWORD) as client:
            client.t[marker].insert_one({"x": 1})  # a fast command: logged only because the threshold is 0
            client.t[marker].find_one({"x": 1})
        window = {"start_date": "2020-01-01T00:00:00+0000", "end_date": "2100-01-01T00:00:00+0000", "limit": 100}
        deadline = time.monotonic() + 10
        found: list[Any] = []
        while time.monotonic() < deadline and len(found) < 2:
            logs = api.get(service.path(f"/instances/{instance['id']}/slowlog"), params=window).json()
            found = [entry for entry in logs.get("slow_log_list", []) if marker in str(entry)]
            time.sleep(0.2)
        assert len(found) >= 2, logs
        history = api.get(service.path(f"/instances/{instance['id']}/configuration-histories")).json()
        latest = history["histories"][0]
        assert latest["parameter_name"] == "operationProfiling.slowOpThresholdMs"
        assert (latest["old_value"], latest["new_value"], latest["applied"], latest["update_result"]) == (
            "100",
            "0",
            True,
            "SUCCESS",
        )
        r = api.put(
            service.path(f"/instances/{instance['id']}/configurations"),
            json={"entity_id": instance["id"], "parameter_values": {"operationProfiling.slowOpThresholdMs": "100"}},
        )
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"


def test_cache_size_restarts_the_engine_with_the_pragma(service: Service, instance: dict[str, Any]) -> None:
    with service.client() as api:
        r = api.put(
            service.path(f"/instances/{instance['id']}/configurations"),
            json={"entity_id": instance["id"], "parameter_values": {"storage.cacheSizeMB": "64"}},
        )
        assert r.status_code == 200 and r.json()["restart_required"] is True, r.text
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
    under = service.parts.settings.instances_dir / instance["id"]
    cmdlines = [p.read_bytes() for p in __import__("pathlib").Path("/proc").glob("[0-9]*/cmdline") if _safe(p)]
    assert any(b"cache_size(-65536)" in c and str(under).encode() in c for c in cmdlines)
    with connect(instance, PASSWORD) as client:
        client.t.after_cache.insert_one({"ok": 1})
        assert client.t.after_cache.count_documents({}) == 1
    assert service.instance(instance["id"])["status"] == "normal"


def _safe(path: Any) -> bool:
    try:
        path.read_bytes()
        return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"net.maxIncomingConnections": "0"}, "DBS.212017"),
        ({"net.maxIncomingConnections": "lots"}, "DBS.212017"),
        ({"operationProfiling.slowOpThresholdMs": "65537"}, "DBS.212017"),
        ({"operationProfiling.mode": "sometimes"}, "DBS.212017"),
        ({"security.javascriptEnabled": "true"}, "DBS.212017"),
        ({"no.such.parameter": "1"}, "DBS.212017"),
        ({"cursorTimeoutMillis": "700000", "net.maxIncomingConnections": "-1"}, "DBS.212017"),
    ],
)
def test_invalid_values_are_refused_and_nothing_changes(
    service: Service, instance: dict[str, Any], values: dict[str, str], code: str
) -> None:
    with service.client() as api:
        before = api.get(service.path(f"/instances/{instance['id']}/configurations")).json()
        history = api.get(service.path(f"/instances/{instance['id']}/configuration-histories")).json()["total_count"]
        r = api.put(
            service.path(f"/instances/{instance['id']}/configurations"),
            json={"entity_id": instance["id"], "parameter_values": values},
        )
        assert r.status_code == 400 and r.json()["error_code"] == code, r.text
        r = api.post(
            service.path("/configurations"),
            json={
                "name": f"bad-{abs(hash(str(values)))}",
                "datastore": {"version": "4.0", "node_type": "replica"},
                "parameter_values": values,
            },
        )
        assert r.status_code == 400 and r.json()["error_code"] == code, r.text
        assert api.get(service.path(f"/instances/{instance['id']}/configurations")).json() == before
        assert (
            api.get(service.path(f"/instances/{instance['id']}/configuration-histories")).json()["total_count"]
            == history
        )


def test_template_lifecycle_and_histories(service: Service, instance: dict[str, Any]) -> None:
    config_id = _template(service, "lifecycle-1", {"cursorTimeoutMillis": "700000"})
    with service.client() as api:
        assert api.get(service.path("/configurations/name-validation"), params={"name": "lifecycle-1"}).json() == {
            "is_existed": True
        }
        assert api.get(service.path("/configurations/name-validation"), params={"name": "nope-1"}).json() == {
            "is_existed": False
        }
        dup = api.post(
            service.path("/configurations"),
            json={"name": "lifecycle-1", "datastore": {"version": "4.0", "node_type": "replica"}},
        )
        assert dup.status_code == 400 and dup.json()["error_code"] == "DBS.212030"
        bad = api.post(
            service.path("/configurations"),
            json={"name": "bad name!", "datastore": {"version": "4.0", "node_type": "replica"}},
        )
        assert bad.status_code == 400 and bad.json()["error_code"] == "DBS.212031"

        r = api.put(
            service.path(f"/configurations/{config_id}"),
            json={"parameter_values": {"operationProfiling.mode": "all"}, "description": "changed"},
        )
        assert r.status_code == 200, r.text
        history = api.get(service.path(f"/configurations/{config_id}/histories")).json()["histories"]
        assert history[0]["parameter_name"] == "operationProfiling.mode"
        assert (history[0]["old_value"], history[0]["new_value"]) == ("slowOp", "all")
        from dds.db.parameters import ParameterChange

        with service.parts.db.session() as s:
            who = {c.changed_by for c in s.query(ParameterChange).filter(ParameterChange.configuration_id == config_id)}
        assert who and all(w.startswith(("user:", "dev-token", "access_key:")) for w in who)

        copied = api.post(
            service.path(f"/configurations/{config_id}/copy"), json={"name": "lifecycle-copy", "description": ""}
        )
        assert copied.status_code == 200, copied.text
        copy_id = copied.json()["configuration_id"]
        same = api.post(
            service.path("/configurations/comparison"),
            json={"source_configuration_id": config_id, "target_configuration_id": copy_id},
        )
        assert same.json() == {"differences": []}
        r = api.post(service.path(f"/configurations/{copy_id}/reset"))
        assert r.status_code == 200, r.text
        diff = api.post(
            service.path("/configurations/comparison"),
            json={"source_configuration_id": config_id, "target_configuration_id": copy_id},
        ).json()
        assert {d["parameter_name"]: (d["source_value"], d["target_value"]) for d in diff["differences"]} == {
            "cursorTimeoutMillis": ("700000", "600000"),
            "operationProfiling.mode": ("all", "slowOp"),
        }
        applicable = api.get(service.path(f"/configurations/{config_id}/applicable-instances")).json()
        assert instance["id"] in {i["instance_id"] for i in applicable["instances"]}
        assert api.delete(service.path(f"/configurations/{copy_id}")).status_code == 200
        gone = api.get(service.path(f"/configurations/{copy_id}"))
        assert gone.status_code == 400 and gone.json()["error_code"] == "DBS.212013"
