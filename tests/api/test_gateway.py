"""The instance gateway for real: a FerretDB engine, the gateway as its own process, pymongo through it.

One engine and one gateway (slow_ms 0, so every command reaches slow.log) serve the module;
a second gateway is started for the connection limit, SIGHUP and SIGTERM. Everything started
here is stopped by PID in the fixtures' teardown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import bson
import pytest
from pymongo import CursorType, MongoClient, WriteConcern, monitoring
from pymongo.errors import OperationFailure

from tests.helpers import free_port, free_ports, wait_for

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "bin" / "ferretdb"
SERVICE_USER, SERVICE_PASSWORD = "dds_service", "Svc#Pass_01"
TENANT_USER, TENANT_PASSWORD = "rwuser", "Rw#Pass_01"
SET_NAME = "replica"

pytestmark = pytest.mark.skipif(not ENGINE.exists(), reason="engine binary missing: run `make setup`")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child by PID: SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.poll() is not None


@dataclass
class Engine:
    port: int
    proc: subprocess.Popen[bytes]

    def client(self, user: str = SERVICE_USER, password: str = SERVICE_PASSWORD) -> MongoClient[dict[str, Any]]:
        return MongoClient(
            f"mongodb://{quote_plus(user)}:{quote_plus(password)}@127.0.0.1:{self.port}/admin?directConnection=true",
            serverSelectionTimeoutMS=5000,
        )


@dataclass
class GatewayProcess:
    port: int
    proc: subprocess.Popen[bytes]
    config_path: Path
    log_dir: Path

    def uri(self, user: str = TENANT_USER, password: str = TENANT_PASSWORD, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"directConnection": "true", **options}.items())
        return f"mongodb://{quote_plus(user)}:{quote_plus(password)}@127.0.0.1:{self.port}/admin?{query}"

    def client(self, user: str = TENANT_USER, password: str = TENANT_PASSWORD, **options: Any) -> MongoClient[Any]:
        return MongoClient(self.uri(user, password), serverSelectionTimeoutMS=5000, **options)

    def log(self, name: str) -> list[dict[str, Any]]:
        path = self.log_dir / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def raw_logs(self) -> str:
        return "".join(p.read_text() for p in self.log_dir.glob("*.log*"))

    def wait_log(self, name: str, match: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.log(name):
                if match(record):
                    return record
            time.sleep(0.05)
        raise AssertionError(f"no matching record in {name}: {self.log(name)[-5:]}")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    base = tmp_path_factory.mktemp("engine")
    (base / "data").mkdir()
    (base / "state").mkdir()
    port, debug = free_ports(2)
    argv = [
        str(ENGINE),
        "--handler=sqlite",
        f"--sqlite-url=file:{base}/data/",
        f"--state-dir={base}/state",
        f"--listen-addr=127.0.0.1:{port}",
        f"--debug-addr=127.0.0.1:{debug}",
        "--telemetry=disable",
        "--test-enable-new-auth",
        "--log-level=INFO",
        f"--repl-set-name={SET_NAME}",
        "--setup-database=admin",
        f"--setup-username={SERVICE_USER}",
    ]
    env = {**os.environ, "FERRETDB_SETUP_PASSWORD": SERVICE_PASSWORD}
    log = open(base / "engine.log", "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:

        def ready() -> bool:
            assert proc.poll() is None, (base / "engine.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/readyz", timeout=1) as resp:
                    return bool(resp.status == 200) and port_open(port)
            except OSError:
                return False

        wait_for(ready, 20, "engine", every=0.05)
        found = Engine(port, proc)
        with found.client() as svc:
            svc.admin.command("createUser", TENANT_USER, pwd=TENANT_PASSWORD, roles=[])
        yield found
    finally:
        stop(proc)
        log.close()


def start_gateway(engine: Engine, base: Path, **overrides: Any) -> GatewayProcess:
    port = free_port()
    config = {
        "listen_host": "127.0.0.1",
        "listen_port": port,
        "engine_host": "127.0.0.1",
        "engine_port": engine.port,
        "advertised_host": "127.0.0.1",
        "advertised_port": port,
        "repl_set_name": SET_NAME,
        "protected_users": [SERVICE_USER],
        "log_dir": str(base / "logs"),
        "slow_ms": 100,
        "max_connections": 0,
        **overrides,
    }
    config_path = base / "gateway.json"
    config_path.write_text(json.dumps(config))
    out = open(base / "gateway.out", "wb")  # noqa: SIM115 - the child holds it; closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "dds.gateway", "--config", str(config_path)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()

    def ready() -> bool:
        assert proc.poll() is None, (base / "gateway.out").read_text()
        return port_open(port)

    wait_for(ready, 10, "gateway", every=0.05)
    return GatewayProcess(port, proc, config_path, base / "logs")


@pytest.fixture(scope="module")
def gateway(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = start_gateway(engine, tmp_path_factory.mktemp("gateway"), slow_ms=0)
    try:
        yield gw
    finally:
        stop(gw.proc)


@pytest.fixture
def tenant(gateway: GatewayProcess) -> Iterator[MongoClient[Any]]:
    with gateway.client() as client:
        yield client


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_login_through_the_gateway(gateway: GatewayProcess, mechanism: str) -> None:
    with gateway.client(authMechanism=mechanism) as client:
        status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == [{"user": TENANT_USER, "db": "admin"}]
    gateway.wait_log(
        "audit.log",
        lambda r: (
            r.get("event") == "authentication"
            and r["outcome"] == "success"
            and r["user"] == TENANT_USER
            and r["mechanism"] == mechanism
        ),
    )


def test_speculative_authentication(gateway: GatewayProcess) -> None:
    """pymongo authenticates inside the OP_QUERY handshake by default; the gateway must follow it."""
    before = len(gateway.log("audit.log"))
    with gateway.client() as client:
        client.admin.command("ping")
    gateway.wait_log("audit.log", lambda r: r.get("outcome") == "success")
    new = [r for r in gateway.log("audit.log")[before:] if r.get("outcome") == "success"]
    assert new and all(r["speculative"] is True and r["user"] == TENANT_USER for r in new)


def test_wrong_password_fails_and_is_audited(gateway: GatewayProcess) -> None:
    with gateway.client(password="wrong") as client, pytest.raises(OperationFailure) as failed:
        client.admin.command("ping")
    assert failed.value.code == 18
    gateway.wait_log("audit.log", lambda r: r.get("outcome") == "failure" and r["user"] == TENANT_USER)


def test_unauthenticated_client_gets_nothing(gateway: GatewayProcess) -> None:
    anonymous: MongoClient[dict[str, Any]]
    with MongoClient(f"mongodb://127.0.0.1:{gateway.port}/?directConnection=true") as anonymous:
        assert anonymous.admin.command("ping")["ok"] == 1
        with pytest.raises(OperationFailure) as refused:
            anonymous.list_database_names()
        assert refused.value.code == 13
        with pytest.raises(OperationFailure):
            anonymous.admin.command("replSetGetStatus")


def test_cannot_log_in_as_the_service_user(gateway: GatewayProcess, engine: Engine) -> None:
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        with (
            gateway.client(SERVICE_USER, SERVICE_PASSWORD, authMechanism=mechanism) as client,
            pytest.raises(OperationFailure) as refused,
        ):
            client.admin.command("ping")
        assert refused.value.code == 18
    with engine.client() as direct:
        assert direct.admin.command("ping")["ok"] == 1  # the same credentials work on the engine port
    record = gateway.wait_log("audit.log", lambda r: r.get("outcome") == "refused" and r["user"] == SERVICE_USER)
    assert SERVICE_PASSWORD not in gateway.raw_logs() and record["client"].startswith("127.0.0.1:")


# --- topology -----------------------------------------------------------------------------------


def test_replica_set_discovery_lands_on_the_gateway(gateway: GatewayProcess) -> None:
    uri = gateway.uri(replicaSet=SET_NAME).replace("directConnection=true&", "")
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client.admin.command("ping")
        assert client.address == ("127.0.0.1", gateway.port)
        assert client.primary == ("127.0.0.1", gateway.port)
        hello = client.admin.command("hello")
    advertised = f"127.0.0.1:{gateway.port}"
    assert hello["hosts"] == [advertised] and hello["me"] == advertised and hello["primary"] == advertised
    assert hello["setName"] == SET_NAME and "compression" not in hello
    assert hello["connectionId"] != 42  # the engine's constant


def test_connection_ids_differ_per_connection(gateway: GatewayProcess) -> None:
    with gateway.client() as one, gateway.client() as two:
        assert one.admin.command("hello")["connectionId"] != two.admin.command("hello")["connectionId"]


def test_repl_set_get_status(tenant: MongoClient[Any], gateway: GatewayProcess) -> None:
    status = tenant.admin.command("replSetGetStatus")
    assert status["set"] == SET_NAME and status["myState"] == 1
    (member,) = status["members"]
    assert member["name"] == f"127.0.0.1:{gateway.port}" and member["stateStr"] == "PRIMARY"
    assert member["health"] == 1 and member["self"] is True
    config = tenant.admin.command("replSetGetConfig")["config"]
    assert config["members"][0]["host"] == f"127.0.0.1:{gateway.port}"


# --- data paths ---------------------------------------------------------------------------------


def test_unacknowledged_writes_then_a_read(tenant: MongoClient[Any]) -> None:
    """Without the gateway, pymongo raises ProtocolError after a few w:0 inserts (the engine answers them)."""
    tenant.app.w0.drop()
    unacknowledged = tenant.app.get_collection("w0", write_concern=WriteConcern(w=0))
    for i in range(10):
        unacknowledged.insert_one({"i": i})
    assert sorted(d["i"] for d in tenant.app.w0.find({}, {"_id": 0})) == list(range(10))
    assert tenant.admin.command("ping")["ok"] == 1


class GetMoreCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.get_mores = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "getMore":
            self.get_mores += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_large_batches_and_get_more(gateway: GatewayProcess) -> None:
    listener = GetMoreCounter()
    with gateway.client(event_listeners=[listener]) as client:
        coll = client.app.big
        coll.drop()
        coll.insert_many([{"_id": i, "pad": "x" * 50} for i in range(20_000)])
        ids = [d["_id"] for d in coll.find({}, {"_id": 1}).sort("_id", 1).batch_size(101)]
        everything = list(coll.find())  # default batches: the first reply is 101 docs, then 16 MiB getMores
        # Exhaust: pymongo sets exhaustAllowed; the engine answers each getMore normally and the
        # gateway never sets moreToCome, so the driver keeps asking.
        exhausted = sum(1 for _ in coll.find({}, {"_id": 1}, cursor_type=CursorType.EXHAUST).batch_size(5000))
    assert ids == list(range(20_000))
    assert len(everything) == 20_000 and exhausted == 20_000
    assert listener.get_mores >= 20_000 // 101


# --- protections ----------------------------------------------------------------------------------


def test_tenant_cannot_see_the_service_user(tenant: MongoClient[Any]) -> None:
    for query in (1, SERVICE_USER, {"user": SERVICE_USER, "db": "admin"}, {"forAllDBs": True}):
        users = tenant.admin.command("usersInfo", query)["users"]
        assert SERVICE_USER not in [u["user"] for u in users], query
    assert TENANT_USER in [u["user"] for u in tenant.admin.command("usersInfo", 1)["users"]]


def test_tenant_cannot_change_the_service_user(tenant: MongoClient[Any], engine: Engine) -> None:
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("dropUser", {}),
        ("updateUser", {"pwd": "Hijacked#1"}),
        ("createUser", {"pwd": "Hijacked#1", "roles": []}),
        ("grantRolesToUser", {"roles": ["root"]}),
    ]
    for command, extra in attempts:
        with pytest.raises(OperationFailure) as refused:
            tenant.admin.command(command, SERVICE_USER, **extra)
        assert refused.value.code == 13, command
    for db in ("admin",):
        with pytest.raises(OperationFailure) as refused:
            tenant[db].command("dropAllUsersFromDatabase")
        assert refused.value.code == 13
    with pytest.raises(OperationFailure):
        tenant.admin.command("dropDatabase")
    with engine.client() as direct:  # still there, same password
        users = direct.admin.command("usersInfo", SERVICE_USER)["users"]
        assert [u["user"] for u in users] == [SERVICE_USER]


def test_tenant_cannot_read_user_credentials(tenant: MongoClient[Any]) -> None:
    system_users = tenant.admin["system.users"]
    for action in (
        lambda: list(system_users.find()),
        lambda: list(system_users.aggregate([{"$match": {}}])),
        lambda: system_users.count_documents({}),
        lambda: system_users.delete_many({}),
        lambda: system_users.insert_one({"user": "x"}),
        lambda: system_users.drop(),
        lambda: list(tenant.app["system.users"].find()),
        lambda: tenant.admin.command("usersInfo", 1, showCredentials=True),
        lambda: tenant.admin.command("renameCollection", "admin.system.users", to="admin.stolen"),
    ):
        with pytest.raises(OperationFailure) as refused:
            action()
        assert refused.value.code == 13


class Scram:
    """Just enough SCRAM-SHA-256 (RFC 7677) for a raw socket, to send what no driver sends."""

    def __init__(self, user: str, password: str) -> None:
        self.password = password
        self.first_bare = f"n={user},r={base64.b64encode(os.urandom(18)).decode()}"

    def start(self) -> dict[str, Any]:
        payload = bson.Binary(f"n,,{self.first_bare}".encode())
        return {
            "saslStart": 1,
            "mechanism": "SCRAM-SHA-256",
            "payload": payload,
            "options": {"skipEmptyExchange": True},
        }

    def proof(self, server_first_payload: bytes) -> bson.Binary:
        server_first = server_first_payload.decode()
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={attrs['r']}"
        message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), message, "sha256")
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
        return bson.Binary(f"{without_proof},p={proof}".encode())

    def finish(self, sock: socket.socket, server_first: dict[str, Any]) -> None:
        """saslContinue until done, from the reply to saslStart (or hello's speculativeAuthenticate)."""
        conversation = server_first["conversationId"]
        step = {"saslContinue": 1, "conversationId": conversation, "$db": "admin"}
        reply = command_over(sock, {**step, "payload": self.proof(bytes(server_first["payload"]))})
        for _ in range(3):
            if reply["done"]:
                break
            reply = command_over(sock, {**step, "payload": bson.Binary(b"")})
        assert reply["ok"] == 1 and reply["done"] is True


def test_legacy_speculative_authentication(gateway: GatewayProcess) -> None:
    """OP_QUERY isMaster with speculativeAuthenticate (older drivers): the engine runs it, the gateway follows."""
    scram = Scram(TENANT_USER, TENANT_PASSWORD)
    spec = {**scram.start(), "db": "admin"}
    query = bson.encode({"isMaster": 1, "speculativeAuthenticate": spec})
    body = struct.pack("<i", 0) + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1) + query
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(struct.pack("<iiii", 16 + len(body), 3, 0, 2004) + body)
        length, _, response_to, op_code = struct.unpack("<iiii", sock.recv(16, socket.MSG_WAITALL))
        hello = bson.decode(sock.recv(length - 16, socket.MSG_WAITALL)[20:])
        assert (response_to, op_code) == (3, 1)
        assert hello["hosts"] == [f"127.0.0.1:{gateway.port}"]
        scram.finish(sock, hello["speculativeAuthenticate"])
        # `find` passes the gateway only if it learned that this connection is authenticated.
        assert command_over(sock, {"find": "people", "filter": {}, "$db": "app"})["ok"] == 1
    gateway.wait_log("audit.log", lambda r: r.get("outcome") == "success" and r["speculative"] is True)


def test_repeated_keys_cannot_smuggle_a_namespace(gateway: GatewayProcess) -> None:
    """The engine reads the last of repeated keys; `{find: "c", find: "system.users"}` must not pass."""

    def element(name: str, value: str) -> bytes:
        encoded = value.encode() + b"\x00"
        return b"\x02" + name.encode() + b"\x00" + struct.pack("<i", len(encoded)) + encoded

    inner = element("find", "c") + element("find", "system.users") + element("$db", "admin")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        scram = Scram(TENANT_USER, TENANT_PASSWORD)
        scram.finish(sock, command_over(sock, {**scram.start(), "$db": "admin"}))
        assert command_over(sock, {"connectionStatus": 1, "$db": "admin"})["authInfo"]["authenticatedUsers"]
        reply = command_over(sock, struct.pack("<i", len(inner) + 5) + inner + b"\x00")
    assert reply["ok"] == 0 and reply["code"] == 2 and "cursor" not in reply


# --- logs and statistics ---------------------------------------------------------------------------


def test_slow_log_shapes_without_literals(tenant: MongoClient[Any], gateway: GatewayProcess) -> None:
    literal, password = "LITERAL-ssn-918273", "Secret#Pwd_5647"
    tenant.app.people.insert_one({"ssn": literal})
    assert tenant.app.people.find_one({"ssn": literal}, {"_id": 0}) == {"ssn": literal}
    tenant.app.command("createUser", "shape_user", pwd=password, roles=[])
    tenant.app.command("dropUser", "shape_user")
    record = gateway.wait_log(
        "slow.log",
        lambda r: r["command"] == "find" and r["ns"] == "app.people" and "ssn" in r["shape"].get("filter", {}),
    )
    assert record["shape"]["filter"] == {"ssn": "?"}
    assert record["user"] == f"{TENANT_USER}@admin" and record["db"] == "app"
    assert record["duration_ms"] >= 0 and record["client"].startswith("127.0.0.1:")
    assert record["time"].endswith("Z")
    created = gateway.wait_log("audit.log", lambda r: r.get("event") == "command" and r["command"] == "createUser")
    assert created["ok"] is True and created["user"] == f"{TENANT_USER}@admin"
    gateway.wait_log("audit.log", lambda r: r.get("event") == "command" and r["command"] == "dropUser")
    logs = gateway.raw_logs()
    assert literal not in logs and password not in logs and TENANT_PASSWORD not in logs


def test_error_log(tenant: MongoClient[Any], gateway: GatewayProcess) -> None:
    with pytest.raises(OperationFailure):
        tenant.app.command("noSuchCommand", 1)
    tenant.app.c.insert_one({"x": 1})  # on an empty collection the engine never looks at the filter
    with pytest.raises(OperationFailure):
        tenant.app.c.find_one({"$where": "this.secretWhere == 1"})
    record = gateway.wait_log("error.log", lambda r: r["command"] == "noSuchCommand")
    assert record["code"] == 59 and record["source"] == "engine" and record["codeName"] == "CommandNotFound"
    record = gateway.wait_log("error.log", lambda r: r["command"] == "find" and r["source"] == "engine")
    assert record["shape"]["filter"] == {"$where": "?"} and record["ns"] == "app.c"
    refused = gateway.wait_log("error.log", lambda r: r["source"] == "gateway" and r["code"] == 13)
    assert refused["errmsg"]


def test_stats_snapshot(gateway: GatewayProcess) -> None:
    with gateway.client() as client:
        client.admin.command("ping")

        def shows_user() -> bool:
            stats = json.loads((gateway.log_dir / "stats.json").read_text())
            return any(c["user"] == f"{TENANT_USER}@admin" for c in stats["clients"])

        wait_for(shows_user, 3, "stats.json with the tenant's connection", every=0.05)
        stats = json.loads((gateway.log_dir / "stats.json").read_text())  # the connection still open
        assert stats["connections"]["current"] >= 1 and stats["connections"]["per_ip"]["127.0.0.1"] >= 1
        assert stats["commands"] > 0 and stats["pid"] == gateway.proc.pid


# --- a second gateway: connection limit, SIGHUP, SIGTERM --------------------------------------------


def command_over(sock: socket.socket, command: dict[str, Any] | bytes, request_id: int = 1) -> dict[str, Any]:
    """One OP_MSG round trip on a raw socket; `command` may be pre-encoded BSON."""
    body = b"\x00\x00\x00\x00\x00" + (command if isinstance(command, bytes) else bson.encode(command))
    sock.sendall(struct.pack("<iiii", 16 + len(body), request_id, 0, 2013) + body)
    header = sock.recv(16, socket.MSG_WAITALL)
    length, _, response_to, _ = struct.unpack("<iiii", header)
    assert response_to == request_id
    return bson.decode(sock.recv(length - 16, socket.MSG_WAITALL)[5:])


def hello_over(sock: socket.socket) -> dict[str, Any]:
    return command_over(sock, {"hello": 1, "$db": "admin"})


def test_max_connections_reload_and_clean_stop(engine: Engine, tmp_path: Path) -> None:
    gw = start_gateway(engine, tmp_path, repl_set_name=None)
    try:
        sockets = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(3)]
        assert all(hello_over(s)["ok"] == 1 for s in sockets)  # unlimited at first
        for s in sockets:
            s.close()
        config = json.loads(gw.config_path.read_text())
        gw.config_path.write_text(json.dumps({**config, "max_connections": 2}))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("gateway.log", lambda r: r["event"] == "reloaded" and r["max_connections"] == 2)
        wait_for(
            lambda: json.loads((gw.log_dir / "stats.json").read_text())["settings"]["max_connections"] == 2,
            3,
            "stats.json to show the reloaded limit",
            every=0.05,
        )

        def current_is(n: int) -> Callable[[], bool]:
            return lambda: json.loads((gw.log_dir / "stats.json").read_text())["connections"]["current"] == n

        wait_for(current_is(0), 3, "closed connections to be released", every=0.05)
        kept = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(2)]
        assert all(hello_over(s)["ok"] == 1 for s in kept)
        third = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        try:
            assert third.recv(1) == b""  # closed at accept
        except ConnectionResetError:
            pass
        third.close()
        assert all(hello_over(s)["ok"] == 1 for s in kept)  # the first two are unaffected
        assert hello_over(kept[0])["hosts"] == [f"127.0.0.1:{gw.port}"]
        for s in kept:
            s.close()
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(5) == 0
        assert gw.log("gateway.log")[-1]["event"] == "stopped"
        assert not port_open(gw.port)
    finally:
        stop(gw.proc)
