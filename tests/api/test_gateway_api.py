"""The DDS log and connection-management operations over the node gateways, through the real
service with pymongo clients: slow/error/audit logs, sessions and their kill, connection
statistics, kill-op rules, client networks and TLS."""

from __future__ import annotations

import socket
import sqlite3
import ssl
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import bson
import httpx
import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from dds.gateway.wire import build_op_msg
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, wait_for

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("gw-api-1") as inst:
        yield inst


def _node_id(instance: dict[str, Any]) -> str:
    return str(instance["groups"][0]["nodes"][0]["id"])


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S+0000"
    return {
        "start_date": (now - timedelta(hours=1)).strftime(fmt),
        "end_date": (now + timedelta(hours=1)).strftime(fmt),
    }


def _sessions(c: httpx.Client, service: Service, node_id: str) -> list[dict[str, Any]]:
    r = c.get(service.path(f"/nodes/{node_id}/sessions"))
    assert r.status_code == 200, r.text
    return r.json()["sessions"]  # type: ignore[no-any-return]


def test_slow_query_appears_in_the_slow_log_and_its_download(service: Service, instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as client:
        # One insert of 20,000 documents takes the engine well over the 100 ms threshold.
        client.t.slow.insert_many([{"i": i, "pad": "secretvalue" * 20} for i in range(20000)])
    iid = instance["id"]
    with service.client() as c:
        r = c.get(service.path(f"/instances/{iid}/slowlog"), params={**_window(), "type": "INSERT", "limit": 100})
        assert r.status_code == 200, r.text
        body = r.json()
        found = [x for x in body["slow_log_list"] if '"t.slow"' in x["query_sample"]]
        assert found and body["total_record"] >= 1, body
        assert found[0]["type"] == "INSERT" and found[0]["database"] == "t" and found[0]["time"].endswith(" ms")
        assert "secretvalue" not in r.text  # literal values are redacted
        r = c.get(service.path(f"/instances/{iid}/slowlog"), params={**_window(), "type": "REMOVE"})
        assert all('"t.slow"' not in x["query_sample"] for x in r.json()["slow_log_list"])
        r = c.get(service.path(f"/instances/{iid}/slowlog"), params={"start_date": "yesterday", "end_date": "x"})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"

        r = c.post(service.path(f"/instances/{iid}/slowlog-download"), json={"node_id_list": [_node_id(instance)]})
        assert r.status_code == 200, r.text
        files = r.json()["list"]
        assert files and files[0]["file_name"] == "slow.log" and r.json()["status"] == "FINISH"
        link = files[0]["file_link"]
    got = httpx.get(link)  # the signature is the credential: no token
    assert got.status_code == 200 and b'"t.slow"' in got.content and b"secretvalue" not in got.content
    assert httpx.get(link.replace("signature=", "signature=0")).status_code == 403


def test_failed_command_appears_in_the_error_log(service: Service, instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as client:
        with pytest.raises(OperationFailure):
            client.t.command("noSuchCommandAtAll")
    with service.client() as c:
        r = c.get(service.path(f"/instances/{instance['id']}/errorlog"), params={**_window(), "limit": 100})
        assert r.status_code == 200, r.text
        assert any("noSuchCommandAtAll on t" in e["content"] for e in r.json()["error_log_list"]), r.json()
        r = c.post(service.path(f"/instances/{instance['id']}/errorlog-download"), json={})
        assert r.status_code == 200 and r.json()["count"] >= 1, r.text


def test_audit_log_follows_the_policy(service: Service, instance: dict[str, Any]) -> None:
    iid = instance["id"]
    with service.client() as c:
        assert c.get(service.path(f"/instances/{iid}/auditlog-policy")).json() == {"keep_days": 0}
        with connect(instance, PASSWORD) as client:
            client.t.create_collection("audit_off")
        assert c.get(service.path(f"/instances/{iid}/auditlog")).json()["total_record"] == 0  # off: nothing written
        r = c.post(service.path(f"/instances/{iid}/auditlog-policy"), json={"keep_days": 7, "audit_types": ["auth"]})
        assert r.status_code == 200, r.text
        assert c.get(service.path(f"/instances/{iid}/auditlog-policy")).json()["keep_days"] == 7
        with connect(instance, PASSWORD) as client:
            client.t.create_collection("audit_on")
        listing = c.get(service.path(f"/instances/{iid}/auditlog")).json()
        assert listing["total_record"] == 1 and listing["total_size"] > 0, listing
        file_id = listing["audit_logs"][0]["id"]
        r = c.post(service.path(f"/instances/{iid}/auditlog-links"), json={"ids": [file_id]})
        assert r.status_code == 200, r.text
        content = httpx.get(r.json()["links"][0]).content
        assert b'"ns":"t.audit_on"' in content and b'"shape":{"create":"?"}' in content
        assert b'"event":"authentication"' in content and b"Test#Pass" not in content
        assert b"audit_off" not in content  # written while the policy was off: never recorded
        r = c.request("DELETE", service.path(f"/instances/{iid}/auditlog"), json={"file_names": [file_id]})
        assert r.status_code == 200, r.text
        assert c.get(service.path(f"/instances/{iid}/auditlog")).json()["total_record"] == 0
        r = c.post(service.path(f"/instances/{iid}/auditlog-policy"), json={"keep_days": 3})
        assert r.status_code == 400
        assert c.post(service.path(f"/instances/{iid}/auditlog-policy"), json={"keep_days": 0}).status_code == 200


def test_connection_statistics_count_clients_per_ip(service: Service, instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as one, connect(instance, PASSWORD) as two:
        one.admin.command("ping")
        two.admin.command("ping")
        with service.client() as c:
            r = c.get(service.path(f"/instances/{instance['id']}/conn-statistics"))
            assert r.status_code == 200, r.text
            body = r.json()
            per_ip = {x["client_ip"]: x["count"] for x in body["outer_connections"]}
            assert per_ip.get("127.0.0.1", 0) >= 2 and body["total_connections"] >= 2, body
            assert body["total_connections"] == body["total_outer_connections"] == sum(per_ip.values())


def test_killed_session_loses_its_cursor(service: Service, instance: dict[str, Any]) -> None:
    node_id = _node_id(instance)
    with connect(instance, PASSWORD) as client:
        client.t.cur.insert_many([{"i": i} for i in range(50)])
    with connect(instance, PASSWORD) as victim, connect(instance, PASSWORD) as other, service.client() as c:
        cursor = victim.t.cur.find().batch_size(2)
        next(cursor)
        cursor_id = cursor.cursor_id
        assert cursor_id
        mine = [s for s in _sessions(c, service, node_id) if s["namespace"] == "t.cur"]
        assert len(mine) == 1 and mine[0]["active"] is False and mine[0]["user"] == "rwuser@admin", mine
        r = c.post(service.path(f"/nodes/{node_id}/session"), json={"sessions": [mine[0]["id"]]})
        assert r.status_code == 200, r.text
        assert all(s["id"] != mine[0]["id"] for s in _sessions(c, service, node_id))
        with pytest.raises(PyMongoError):
            list(cursor)
        with pytest.raises(OperationFailure) as err:  # the engine closed the cursor with the connection
            other.t.command("getMore", cursor_id, collection="cur")
        assert err.value.code == 43, err.value.details  # CursorNotFound
        r = c.post(service.path(f"/nodes/{node_id}/session"), json={"sessions": ["not-a-number"]})
        assert r.status_code == 400


@pytest.fixture
def write_lock(service: Service, instance: dict[str, Any]) -> Iterator[Any]:
    """Holds the SQLite write lock of database `t`, so the engine's next write to it waits (busy_timeout)."""
    data = Path(service.parts.settings.instances_dir) / instance["id"] / _node_id(instance) / "data"
    db = sqlite3.connect(str(data / "t.sqlite"), isolation_level=None, timeout=1)

    class Lock:
        def hold(self) -> None:
            db.execute("BEGIN IMMEDIATE")

        def release(self) -> None:
            if db.in_transaction:
                db.execute("ROLLBACK")

    lock = Lock()
    try:
        yield lock
    finally:
        lock.release()
        db.close()


def test_kill_op_rule_refuses_operations_beyond_its_concurrency(
    service: Service, instance: dict[str, Any], write_lock: Any
) -> None:
    iid, node_id = instance["id"], _node_id(instance)
    with connect(instance, PASSWORD) as client:
        client.t.locked.insert_one({"i": 0})
    with service.client() as c:
        rule = {"operation_types": ["insert"], "namespaces": ["t.locked"], "max_concurrency": 1, "node_type": "replica"}
        assert c.post(service.path(f"/instances/{iid}/kill-op-rule"), json=rule).status_code == 200
        bad = {**rule, "max_concurrency": 0}
        assert c.post(service.path(f"/instances/{iid}/kill-op-rule"), json=bad).status_code == 400
        rules = c.get(service.path(f"/instances/{iid}/kill-op-rule")).json()
        assert rules["total_count"] == 1 and rules["rules"][0]["status"] == "DISABLED"
        rule_id = rules["rules"][0]["id"]
        # The reference's own example body.
        r = c.put(service.path(f"/instances/{iid}/kill-op-rule"), json={"ids": [rule_id], "action": "enable"})
        assert r.status_code == 200, r.text

        errors: list[BaseException] = []
        write_lock.hold()
        host, port = instance["groups"][0]["nodes"][0]["private_ip"], instance["port"]
        uri = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
        # No retried write: the killed insert must surface as the client's error, not run again.
        with MongoClient(uri, retryWrites=False) as blocked, connect(instance, PASSWORD) as second:

            def insert() -> None:
                try:
                    blocked.t.locked.insert_one({"i": 1})
                except BaseException as exc:  # noqa: BLE001 - examined below
                    errors.append(exc)

            worker = threading.Thread(target=insert)
            worker.start()
            running = wait_for(
                lambda: [s for s in _sessions(c, service, node_id) if s["active"] and s["namespace"] == "t.locked"],
                10,
                "the blocked insert",
                every=0.05,
            )
            assert running[0]["type"] == "insert" and running[0]["operation"] == "insert"
            with pytest.raises(OperationFailure) as refused:
                second.t.locked.insert_one({"i": 2})
            assert refused.value.code == 11601 and rule_id in str(refused.value), refused.value.details
            assert second.t.locked.count_documents({}) >= 1  # a query is not an insert: allowed
            second.u.other.insert_one({"i": 3})  # another namespace (and database file): allowed
            # Killing the running insert's session frees its client at once, though the engine waits.
            r = c.post(service.path(f"/nodes/{node_id}/session"), json={"sessions": [running[0]["id"]]})
            assert r.status_code == 200, r.text
            worker.join(10)
            killed = errors[0] if errors else None
            assert not worker.is_alive() and isinstance(killed, OperationFailure) and killed.code == 11601, errors
            write_lock.release()
        # Only a disabled rule can be deleted.
        r = c.put(service.path(f"/instances/{iid}/kill-op-rule"), json={"ids": [rule_id], "action": "disable"})
        assert r.status_code == 200, r.text
        r = c.request("DELETE", service.path(f"/instances/{iid}/kill-op-rule"), json={"ids": [rule_id]})
        assert r.status_code == 200 and c.get(service.path(f"/instances/{iid}/kill-op-rule")).json()["total_count"] == 0
    with connect(instance, PASSWORD) as client:
        client.t.locked.insert_one({"i": 4})  # the rule is gone


def _rules(c: httpx.Client, service: Service, iid: str, **params: str) -> dict[str, str]:
    """Rule id → status, as GET .../kill-op-rule lists them."""
    r = c.get(service.path(f"/instances/{iid}/kill-op-rule"), params=params)
    assert r.status_code == 200, r.text
    return {rule["id"]: rule["status"] for rule in r.json()["rules"]}


def test_kill_op_rule_actions_and_an_enabled_rule_cannot_be_deleted(service: Service, instance: dict[str, Any]) -> None:
    """`action` takes the reference's `enable`/`disable` (and the upper-case statuses, as before);
    `status` reads ENABLED/DISABLED; deleting an enabled rule is refused and changes nothing."""
    iid = instance["id"]
    url = service.path(f"/instances/{iid}/kill-op-rule")
    # Matches nothing the other tests run: enforcing it changes nothing for them.
    body = {"operation_types": ["query"], "namespaces": ["nobody.here"], "max_concurrency": 100000}
    with service.client() as c:
        before = set(_rules(c, service, iid))
        for _ in range(2):
            assert c.post(url, json=body).status_code == 200
        first, second = sorted(set(_rules(c, service, iid)) - before)
        try:
            assert _rules(c, service, iid)[first] == "DISABLED"
            # The reference's example request, exactly.
            r = c.put(url, json={"ids": [first], "action": "enable"})
            assert r.status_code == 200, r.text
            assert _rules(c, service, iid)[first] == "ENABLED"
            assert first in _rules(c, service, iid, status="ENABLED")
            assert first not in _rules(c, service, iid, status="DISABLED")

            # An enabled rule cannot be deleted, alone or with a disabled one: nothing is deleted.
            for ids in ([first], [second, first]):
                r = c.request("DELETE", url, json={"ids": ids})
                assert r.status_code == 403, r.text
                assert r.json()["error_code"] == "DBS.200011" and first in r.json()["error_msg"]
                assert {first: "ENABLED", second: "DISABLED"}.items() <= _rules(c, service, iid).items()

            # The upper-case statuses are still accepted as actions; anything else is refused.
            assert c.put(url, json={"ids": [first], "action": "DISABLED"}).status_code == 200
            assert _rules(c, service, iid)[first] == "DISABLED"
            assert c.put(url, json={"ids": [first, second], "action": "ENABLED"}).status_code == 200
            assert {first: "ENABLED", second: "ENABLED"}.items() <= _rules(c, service, iid).items()
            for bad in ("ENABLE", "on", "", None):
                r = c.put(url, json={"ids": [first], "action": bad})
                assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001", (bad, r.text)
            assert _rules(c, service, iid)[first] == "ENABLED"

            # Disabled, it can be deleted.
            r = c.put(url, json={"ids": [first, second], "action": "disable"})
            assert r.status_code == 200, r.text
            assert {first: "DISABLED", second: "DISABLED"}.items() <= _rules(c, service, iid).items()
            r = c.request("DELETE", url, json={"ids": [first, second]})
            assert r.status_code == 200, r.text
            assert set(_rules(c, service, iid)) == before
        finally:
            left = set(_rules(c, service, iid)) - before
            if left:
                c.put(url, json={"ids": sorted(left), "action": "disable"})
                c.request("DELETE", url, json={"ids": sorted(left)})


def _hello_from(source: str, port: int) -> bool:
    """A raw OP_MSG hello from `source` (a 127.0.0.0/8 address); True if the node answered."""
    with socket.socket() as s:
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(build_op_msg({"hello": 1, "$db": "admin"}, 0))
        try:
            header = s.recv(16)
        except ConnectionResetError:
            return False
        if len(header) < 16:
            return False
        (length,) = struct.unpack_from("<i", header)
        rest = b""
        while len(rest) < length - 16:
            rest += s.recv(length - 16 - len(rest))
        return bool(bson.decode(rest[5:])["ok"])


def test_client_network_admits_only_listed_addresses(service: Service, instance: dict[str, Any]) -> None:
    iid, port = instance["id"], int(instance["port"])
    with service.client() as c, connect(instance, PASSWORD) as before:
        before.admin.command("ping")
        r = c.post(service.path(f"/instances/{iid}/client-network"), json={"client_network_ranges": ["127.0.0.2/32"]})
        assert r.status_code == 200, r.text
        assert c.get(service.path(f"/instances/{iid}/client-network")).json() == {
            "instance_id": iid,
            "client_network_ranges": ["127.0.0.2/32"],
        }
        assert _hello_from("127.0.0.2", port)
        assert not _hello_from("127.0.0.3", port)
        with connect(instance, PASSWORD, timeout_ms=1500) as outside, pytest.raises(ServerSelectionTimeoutError):
            outside.admin.command("ping")
        r = c.post(service.path(f"/instances/{iid}/client-network"), json={"client_network_ranges": ["nonsense"]})
        assert r.status_code == 400
        r = c.post(service.path(f"/instances/{iid}/client-network"), json={"client_network_ranges": []})
        assert r.status_code == 200
    with connect(instance, PASSWORD) as client:
        client.admin.command("ping")


def test_tls_switched_on_is_required_and_verified_by_the_downloaded_ca(
    service: Service, instance: dict[str, Any], tmp_path: Path
) -> None:
    iid, port = instance["id"], int(instance["port"])
    host = instance["groups"][0]["nodes"][0]["private_ip"]
    with service.client() as c:
        r = c.post(service.path(f"/instances/{iid}/switch-ssl"), json={"ssl_option": "1"})
        assert r.status_code == 202, r.text
        assert r.json()["ssl_option"] == "1"
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        assert service.instance(iid)["ssl"] == 1
        links = c.get(service.path(f"/instances/{iid}/ssl-cert/download-link")).json()["certs"]
    pem = httpx.get(links[0]["download_link"])
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN CERTIFICATE-----")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem.content)
    uri = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
    with MongoClient(uri, tls=True, tlsCAFile=str(ca), serverSelectionTimeoutMS=5000) as secure:
        assert secure.t.cur.count_documents({}) == 50  # the engine kept its data: it was not restarted
    with MongoClient(uri, serverSelectionTimeoutMS=1500) as plain, pytest.raises(ServerSelectionTimeoutError):
        plain.admin.command("ping")
    untrusted = ssl.create_default_context()  # the system CAs do not know ours
    with socket.create_connection((host, port), timeout=5) as raw, pytest.raises(ssl.SSLCertVerificationError):
        untrusted.wrap_socket(raw, server_hostname=host)
    with service.client() as c:
        r = c.post(service.path(f"/instances/{iid}/switch-ssl"), json={"ssl_option": "0"})
        assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        assert service.instance(iid)["ssl"] == 0
        r = c.post(service.path(f"/instances/{iid}/switch-ssl"), json={"ssl_option": "0"})
        assert r.status_code == 400
    with connect(instance, PASSWORD) as client:
        client.admin.command("ping")
