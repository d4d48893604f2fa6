"""Replica sets on PostgreSQL storage (`DDS_REPLICA_SET_STORAGE=postgresql`, as the README says):
three members, each a PostgreSQL server under pg_auto_failover, an engine and a gateway; what
drivers see (hello, rs.status(), refused writes on secondaries, reads there); failover under a
`w: "majority"` writer when every process of the primary member is killed, or its data deleted:
writes resume, nothing acknowledged is lost, the old member comes back as a secondary."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import psycopg
import pytest
from pymongo import MongoClient, ReadPreference, WriteConcern
from pymongo.errors import NotPrimaryError, PyMongoError, ServerSelectionTimeoutError, WriteConcernError
from pymongo.read_concern import ReadConcern

from dds.db.models import Instance
from dds.engine import postgres
from dds.fleet import members
from tests.backup_helpers import (
    backup,
    check_base_backup,
    check_manifest,
    recover,
    restore_new,
    seed,
    snapshot,
    tenant,
    wait_export,
)
from tests.conftest import PASSWORD, Service
from tests.helpers import logs_in, member_logs

pytestmark = pytest.mark.skipif(shutil.which("pg_autoctl") is None, reason="pg_auto_failover is not installed")

MONGOSH = Path(__file__).resolve().parents[1] / "js" / "node_modules" / ".bin" / "mongosh"
RESUME_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def replica_set(pg_service: Service) -> Iterator[dict[str, Any]]:
    with pg_service.ready_instance("pg-rs-1", mode="ReplicaSet") as inst:
        yield inst


def _uri(inst: dict[str, Any]) -> str:
    """What a tenant builds from the instance's details: every member's address, the instance's port."""
    hosts = ",".join(f"{n['private_ip']}:{inst['port']}" for g in inst["groups"] for n in g["nodes"])
    return f"mongodb://rwuser:{quote_plus(PASSWORD)}@{hosts}/?authSource=admin&replicaSet=replica"


def _nodes(svc: Service, instance_id: str) -> list[dict[str, Any]]:
    return [n for g in svc.instance(instance_id)["groups"] for n in g["nodes"]]


def _instance_dir(svc: Service, inst: dict[str, Any]) -> Path:
    return svc.parts.settings.instances_dir / inst["id"]


def _node_dir(svc: Service, instance_id: str, address: str) -> Path:
    """The node directory whose gateway listens on `address`'s port."""
    for d in (svc.parts.settings.instances_dir / instance_id).iterdir():
        config = d / "gateway.json"
        if config.exists():
            seen = json.loads(config.read_text())
            if f"{seen['advertised_host']}:{seen['advertised_port']}" == address:
                return d
    raise AssertionError(f"no node listens on {address}")


def test_three_members_with_their_roles(pg_service: Service, replica_set: dict[str, Any]) -> None:
    nodes = _nodes(pg_service, replica_set["id"])
    assert sorted(n["role"] for n in nodes) == ["Primary", "Secondary", "Secondary"]
    assert len({n["private_ip"] for n in nodes}) == 3, "each member has an address of its own"
    assert all(n["status"] == "normal" for n in nodes)
    inst_dir = pg_service.parts.settings.instances_dir / replica_set["id"]
    members = [d for d in inst_dir.iterdir() if (d / "pg" / "pgdata" / "PG_VERSION").exists()]
    assert len(members) == 3, "three PostgreSQL servers"
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        hello = client.admin.command("hello")
        assert hello["setName"] == "replica" and len(hello["hosts"]) == 3
        assert hello["isWritablePrimary"] is True and hello["primary"] == hello["me"]
        assert hello["electionId"].binary[:4] == b"\x7f\xff\xff\xff"
        client.test.people.insert_one({"_id": 1, "name": "ada"})
        client.test.get_collection("people", write_concern=WriteConcern(w="majority")).insert_one({"_id": 2})
        secondary = client.test.get_collection("people", read_preference=ReadPreference.SECONDARY)
        deadline = time.monotonic() + 10
        while secondary.count_documents({}) != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert secondary.count_documents({}) == 2, "reads on a secondary see the primary's writes"


def _tree_bytes(root: Path, skip: str = "") -> int:
    return sum(f.lstat().st_size for f in root.rglob("*") if f.is_file() and not f.is_relative_to(root / skip))


def test_disk_usage_is_the_fullest_members(pg_service: Service, replica_set: dict[str, Any]) -> None:
    """Each member has a volume of the instance's size (as on DDS): the instance is as full as its
    fullest member's data (not the WAL kept for standbys), never as the members together."""
    with pg_service.client() as c:
        used = int(
            c.get(pg_service.path(f"/instances/{replica_set['id']}/disk-usage")).json()["volumes"][0]["used_bytes"]
        )
    data = [
        d / "pg" / "pgdata" for d in _instance_dir(pg_service, replica_set).iterdir() if (d / "gateway.json").exists()
    ]
    members = [_tree_bytes(p, skip="pg_wal") for p in data]
    assert len(members) == 3 and 0 < used <= max(members) * 1.2 < sum(members), (used, members)


def test_mongosh_rs_status_shows_three_members(pg_service: Service, replica_set: dict[str, Any]) -> None:
    script = "const s = rs.status(); print(JSON.stringify(s.members.map(m => m.stateStr).sort()))"
    seen: list[str] = []
    deadline = time.monotonic() + 30  # a standby the monitor moves between catching up and caught up stays SECONDARY
    while seen != ["PRIMARY", "SECONDARY", "SECONDARY"] and time.monotonic() < deadline:
        out = subprocess.run(
            [str(MONGOSH), _uri(replica_set), "--quiet", "--norc", "--eval", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MONGOSH_DISABLE_TELEMETRY": "1"},
        )
        assert out.returncode == 0, out.stderr
        seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == ["PRIMARY", "SECONDARY", "SECONDARY"], member_logs(_instance_dir(pg_service, replica_set))


def test_a_secondary_refuses_writes_and_serves_reads(replica_set: dict[str, Any]) -> None:
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        client.test.refuse.insert_one({"_id": "seen"})
        hello = client.admin.command("hello")
        address = next(h for h in hello["hosts"] if h != hello["primary"])
    host, port = address.rsplit(":", 1)
    direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
    with MongoClient(direct, serverSelectionTimeoutMS=20000) as client:
        assert client.admin.command("hello")["secondary"] is True
        with pytest.raises(NotPrimaryError) as raised:
            client.test.refuse.insert_one({"_id": "refused"})
        assert raised.value.details and raised.value.details["code"] == 10107  # NotWritablePrimary
        deadline = time.monotonic() + 10
        while client.test.refuse.find_one({"_id": "seen"}) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.test.refuse.find_one({"_id": "seen"}) == {"_id": "seen"}


def _wal_receivers(instance_dir: Path) -> list[int]:
    """The standbys' WAL receiver processes of the instance's members (children of a server whose
    command line names a directory of the instance)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"postgres: walreceiver"):
                continue
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[1])
            if str(instance_dir).encode() in Path(f"/proc/{parent}/cmdline").read_bytes():
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_w1_is_acknowledged_by_the_primary_alone_and_majority_waits(
    pg_service: Service, replica_set: dict[str, Any]
) -> None:
    """With every standby's WAL receiver stopped, `w: 1` writes are acknowledged at once (the
    primary has them) and a `w: "majority"` write waits until a standby has it."""
    instance_dir = pg_service.parts.settings.instances_dir / replica_set["id"]
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        client.test.wc.insert_one({"_id": "before"})
        receivers = _wal_receivers(instance_dir)
        assert len(receivers) == 2, receivers
    # A write that waits fails after the socket's timeout rather than hanging the test.
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, socketTimeoutMS=5000) as client:
        one = client.test.get_collection("wc", write_concern=WriteConcern(w=1))
        majority = client.test.get_collection("wc", write_concern=WriteConcern(w="majority"))
        done = threading.Event()
        for pid in receivers:
            os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            one.insert_one({"_id": "w1"})
            one.update_one({"_id": "w1"}, {"$set": {"v": 1}})
            one.delete_one({"_id": "before"})
            assert time.monotonic() - t0 < 1.0, "w: 1 waited for a standby"
            waiter = threading.Thread(target=lambda: (majority.insert_one({"_id": "maj"}), done.set()), daemon=True)
            waiter.start()
            assert not done.wait(1.5), "w: majority was acknowledged while no standby received the WAL"
        finally:
            for pid in receivers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        assert done.wait(15), "w: majority never acknowledged once the standbys received the WAL again"
        assert sorted(d["_id"] for d in client.test.wc.find()) == ["maj", "w1"]


@contextlib.contextmanager
def _stopped(pids: list[int]) -> Iterator[None]:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_wtimeout_and_majority_reads_while_no_standby_receives(
    pg_service: Service, replica_set: dict[str, Any]
) -> None:
    """With every standby's WAL receiver stopped: a `w: "majority"` write with `wtimeout` answers
    WriteConcernFailed (64, `errInfo.wtimeout`) after about that long and the primary keeps it (as
    MongoDB); a `readConcern: majority` read of a `w: 1` write waits until a standby has it."""
    instance_dir = pg_service.parts.settings.instances_dir / replica_set["id"]
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, socketTimeoutMS=20000) as client:
        client.test.wt.insert_one({"_id": "before"})
        receivers = _wal_receivers(instance_dir)
        assert len(receivers) == 2, receivers
        timed = client.test.get_collection("wt", write_concern=WriteConcern(w="majority", wtimeout=1500))
        local = client.test.get_collection("wt", write_concern=WriteConcern(w=1))
        majority_read = client.test.get_collection("wt", read_concern=ReadConcern("majority"))
        seen: list[Any] = []
        with _stopped(receivers):
            t0 = time.monotonic()
            with pytest.raises(WriteConcernError) as raised:
                timed.insert_one({"_id": "timed"})
            waited = time.monotonic() - t0
            assert raised.value.code == 64 and raised.value.details["errInfo"] == {"wtimeout": True}
            assert 1.4 <= waited < 5, waited
            local.insert_one({"_id": "local"})
            reader = threading.Thread(target=lambda: seen.append(majority_read.find_one({"_id": "local"})))
            reader.start()
            reader.join(1.5)
            assert reader.is_alive(), "a majority read answered while no standby had what it read"
        reader.join(15)
        assert seen == [{"_id": "local"}]
        assert sorted(d["_id"] for d in client.test.wt.find()) == ["before", "local", "timed"]


def _member_processes(node_dir: Path) -> list[int]:
    """Every process of a member: its keeper and its PostgreSQL server with all the server's
    processes (the server runs in a session of its own: found by parentage, not process group)."""
    top, parents = int((node_dir / "storage.pid").read_text()), {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[1])
    found, frontier = [top], [top]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _number_sync_standbys(inst: dict[str, Any], svc: Service, value: int | None = None) -> int:
    """The formation's `number_sync_standbys` on the instance's monitor (set first when given)."""
    with svc.parts.db.session() as s:
        port = s.get(Instance, inst["id"]).monitor_port
    with psycopg.connect(postgres.monitor_url(port), autocommit=True) as conn:
        if value is not None:
            conn.execute("SELECT pgautofailover.set_formation_number_sync_standbys('default', %s)", (value,))
        row = conn.execute("SELECT number_sync_standbys FROM pgautofailover.formation").fetchone()
    return int(row[0])


def test_majority_writes_wait_while_synchronous_replication_is_off(
    pg_service: Service, replica_set: dict[str, Any]
) -> None:
    """pg_auto_failover turns synchronous replication off while the primary has no healthy standby
    to wait for (`wait_primary`: after every failover or switchover until a standby follows the new
    primary; here made to last by `number_sync_standbys` 0 and both standby members frozen): a
    `w: "majority"` write is still not acknowledged (it times out with 64), a `w: 1` write is; once
    the standbys are back, majority writes are acknowledged."""
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, socketTimeoutMS=20000) as client:
        client.test.alone.insert_one({"_id": "before"})
        hello = client.admin.command("hello")
    standbys = [_node_dir(pg_service, replica_set["id"], a) for a in hello["hosts"] if a != hello["primary"]]
    frozen = [pid for d in standbys for pid in _member_processes(d)]
    assert len(frozen) >= 4, frozen
    was = _number_sync_standbys(replica_set, pg_service)
    _number_sync_standbys(replica_set, pg_service, 0)
    try:
        with _stopped(frozen):
            deadline = time.monotonic() + 60
            while "wait_primary" not in _states(pg_service, replica_set) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert "wait_primary" in _states(pg_service, replica_set), _states(pg_service, replica_set)
            with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, socketTimeoutMS=20000) as client:
                t0 = time.monotonic()
                client.test.get_collection("alone", write_concern=WriteConcern(w=1)).insert_one({"_id": "w1"})
                assert time.monotonic() - t0 < 1.0
                timed = client.test.get_collection("alone", write_concern=WriteConcern(w="majority", wtimeout=1000))
                with pytest.raises(WriteConcernError) as raised:
                    timed.insert_one({"_id": "alone"})
                assert raised.value.code == 64
        with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, socketTimeoutMS=60000) as client:
            client.test.alone.insert_one({"_id": "after"})  # w: "majority" by default: waits for a standby
            assert sorted(d["_id"] for d in client.test.alone.find()) == ["after", "alone", "before", "w1"]
    finally:
        _number_sync_standbys(replica_set, pg_service, was)
    deadline = time.monotonic() + 120
    settled = ["primary", "secondary", "secondary"]
    while sorted(_states(pg_service, replica_set)) != settled and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sorted(_states(pg_service, replica_set)) == settled


def _states(svc: Service, inst: dict[str, Any]) -> list[str]:
    """The monitor's reported state of every member."""
    with svc.parts.db.session() as s:
        found = members.states(svc.parts, s.get(Instance, inst["id"]))
    return [m.reported for m in found]


def _keeper_pids(node_dir: Path) -> list[int]:
    """The member keeper's own processes (pg_autoctl and its services), not its PostgreSQL server."""
    group, found = int((node_dir / "storage.pid").read_text()), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            pgrp = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[2])
        except OSError:
            continue
        if pgrp == group and cmd.startswith(b"pg_autoctl"):
            found.append(int(entry))
    return found


def test_a_member_whose_server_is_down_answers_shutdown_in_progress(
    pg_service: Service, replica_set: dict[str, Any]
) -> None:
    """As a MongoDB member shutting down does (code 91, which drivers retry on another member), never
    an InternalError that fails the application's operation even in the driver's handshake."""
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        hello = client.admin.command("hello")
    address = next(h for h in hello["hosts"] if h != hello["primary"])
    node_dir = _node_dir(pg_service, replica_set["id"], address)
    keeper = _keeper_pids(node_dir)
    assert keeper, "the member's keeper runs"
    host, port = address.rsplit(":", 1)
    direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
    for pid in keeper:  # held still, so that it does not start the server again at once
        os.kill(pid, signal.SIGSTOP)
    try:
        postmaster = node_dir / "pg" / "pgdata" / "postmaster.pid"
        os.kill(int(postmaster.read_text().split()[0]), signal.SIGINT)  # a fast shutdown
        deadline = time.monotonic() + 30
        while postmaster.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with MongoClient(direct, serverSelectionTimeoutMS=5000, retryReads=False) as client:
            with pytest.raises(PyMongoError) as raised:
                client.test.refuse.find_one({"_id": "seen"})
        details = getattr(raised.value, "details", None) or {}
        assert details.get("code") == 91, raised.value  # ShutdownInProgress
        with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
            assert client.test.refuse.find_one({"_id": "seen"}) == {"_id": "seen"}  # the others serve
    finally:
        for pid in keeper:
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 120
    while pg_service.instance(replica_set["id"])["status"] != "normal" and time.monotonic() < deadline:
        time.sleep(1)
    with MongoClient(direct, serverSelectionTimeoutMS=60000) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                assert client.test.refuse.find_one({"_id": "seen"}) == {"_id": "seen"}
                break
            except PyMongoError:
                time.sleep(0.5)
        assert client.test.refuse.find_one({"_id": "seen"}) == {"_id": "seen"}, "the keeper restarted its server"


def test_a_backup_is_taken_from_a_standby_downloaded_and_restored(
    pg_service: Service, replica_set: dict[str, Any], tmp_path: Path
) -> None:
    """A base backup of a secondary streamed into the store (PostgreSQL's own tools accept it), its
    mongodump-layout export beside it, both downloadable; it restores into a new instance whole."""
    iid = replica_set["id"]
    with tenant(pg_service, replica_set) as client:
        seed(client, rows=150)
        client.admin.command("createUser", "appuser", pwd="App#Pass_01", roles=[])  # the source's own user
        before = snapshot(client)
    backup_id = backup(pg_service, iid, "pg-backup-1")
    files = wait_export(pg_service, iid, backup_id)
    manifest = check_base_backup(files[f"{backup_id}.physical.tar.zst"], backup_id, iid, tmp_path)
    assert manifest["mode"] == "ReplicaSet" and manifest["point_in_time"]
    assert set(manifest["databases"]) >= {"admin", "shop"}, manifest["databases"]
    export = check_manifest(files[f"{backup_id}.mongodump.tar.gz"], backup_id, iid)
    assert export["documents"] >= 150
    roles = {n["id"]: n["role"] for n in _nodes(pg_service, iid)}
    taken_from = [d.name for d in _instance_dir(pg_service, replica_set).iterdir() if (d / "base-backup.log").exists()]
    assert taken_from and all(roles[name] == "Secondary" for name in taken_from), (taken_from, roles)

    created = restore_new(pg_service, backup_id, "pg-restored-1", timeout=300)
    restored = pg_service.instance(created["id"])
    assert len(_nodes(pg_service, created["id"])) == 3
    members = [d for d in _instance_dir(pg_service, restored).iterdir() if (d / "gateway.json").exists()]
    assert len(members) == 3 and all((d / "pg" / "pgdata").is_dir() for d in members)  # on PostgreSQL
    with tenant(pg_service, restored) as client:
        assert snapshot(client) == before  # documents byte for byte, and every index
        client.shop.orders.insert_one({"_id": "written after restore"})  # a writable primary
        assert client.local.oplog.rs.find_one({"ns": "shop.orders", "o._id": "written after restore"})
    assert logs_in(restored, "appuser", "App#Pass_01")  # a physical restore brings the backup's users back
    pg_service.delete_instance(created["id"])

    with tenant(pg_service, replica_set) as client:  # a restore onto the original undoes later changes
        client.shop.orders.delete_many({"n": {"$lt": 50}})
        client.later.added.insert_one({"_id": 1})
    recover(pg_service, iid, backup_id, iid)
    assert pg_service.instance(iid)["status"] == "normal"
    with tenant(pg_service, replica_set) as client:
        assert snapshot(client) == before


class Writer:
    """A `w: "majority"` writer through the replica-set URI: each acknowledged `_id` and when."""

    def __init__(self, inst: dict[str, Any], collection: str) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(_uri(inst), serverSelectionTimeoutMS=30000)
        self.coll = self.client.test.get_collection(collection, write_concern=WriteConcern(w="majority"))
        self.acked: list[tuple[int, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set() and i < 200_000:
            try:
                self.coll.insert_one({"_id": i})
                self.acked.append((i, time.monotonic()))
            except PyMongoError:  # a failover in progress (a retried write may find its first attempt)
                self.errors += 1
                time.sleep(0.02)
            i += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def longest_gap_after(self, t0: float) -> float:
        times = [t0] + [t for _, t in self.acked if t >= t0]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=float("inf"))


GAP_WITHIN_S = 3.0  # a switchover, and the rolling operations around one


def _primary_address(inst: dict[str, Any]) -> str:
    with MongoClient(_uri(inst), serverSelectionTimeoutMS=20000) as client:
        return str(client.admin.command("hello")["primary"])


def _under_writer(svc: Service, inst: dict[str, Any], collection: str, path: str, body: dict[str, Any]) -> float:
    """POST `path` of the instance (a job) under a `w: "majority"` writer: the job completes, the
    longest gap between two acknowledged writes from the request on is within GAP_WITHIN_S, and
    nothing acknowledged is lost; returns the gap."""
    with Writer(inst, collection) as writer:
        time.sleep(1)
        assert writer.acked, "the writer writes before the request"
        t0 = time.monotonic()
        with svc.client() as c:
            r = c.post(svc.path(f"/instances/{inst['id']}/{path}"), json=body)
        assert r.status_code in (200, 202), r.text
        job = svc.wait_job(r.json()["job_id"], timeout=300)
        time.sleep(1)
    assert job["status"] == "Completed", job
    gap = writer.longest_gap_after(t0)
    assert gap <= GAP_WITHIN_S, f"writes paused {gap:.2f} s over {path}"
    with MongoClient(_uri(inst), serverSelectionTimeoutMS=30000) as client:
        have = {d["_id"] for d in client.test[collection].find({}, {"_id": 1})}
    assert not {i for i, _ in writer.acked} - have, "acknowledged majority writes lost"
    return gap


def test_switchover_moves_the_primary_with_a_short_gap(pg_service: Service, replica_set: dict[str, Any]) -> None:
    before = _primary_address(replica_set)
    _under_writer(pg_service, replica_set, "switched", "switchover", {})
    assert _primary_address(replica_set) != before
    nodes = _nodes(pg_service, replica_set["id"])
    assert sorted(n["role"] for n in nodes) == ["Primary", "Secondary", "Secondary"]
    assert pg_service.instance(replica_set["id"])["status"] == "normal"


def _promote(svc: Service, inst: dict[str, Any], node_id: str) -> None:
    with svc.client() as c:
        r = c.post(svc.path(f"/instances/{inst['id']}/nodes/{node_id}/primary"))
        assert r.status_code == 200, r.text
        assert svc.wait_job(r.json()["job_id"], timeout=120)["status"] == "Completed"
    roles = {n["id"]: n["role"] for n in _nodes(svc, inst["id"])}
    assert roles[node_id] == "Primary" and list(roles.values()).count("Primary") == 1, roles


def test_a_named_secondary_is_promoted_and_back(pg_service: Service, replica_set: dict[str, Any]) -> None:
    """The primary goes to a chosen secondary and back: each member's engine follows its role (a
    demoted primary sees what the next one creates; promoted again, it writes there)."""
    nodes = _nodes(pg_service, replica_set["id"])
    primary = next(n for n in nodes if n["role"] == "Primary")
    chosen = next(n for n in nodes if n["role"] == "Secondary")
    base = f"/instances/{replica_set['id']}/nodes"
    with pg_service.client() as c:
        refused = c.post(pg_service.path(f"{base}/{primary['id']}/primary"))
        assert refused.status_code == 400 and refused.json()["error_code"] == "DBS.200001", refused.text
        unknown = c.post(pg_service.path(f"{base}/no-such-node/primary"))
        assert unknown.status_code == 400 and unknown.json()["error_code"] == "DBS.200001", unknown.text
    _promote(pg_service, replica_set, chosen["id"])
    assert _primary_address(replica_set) == f"{chosen['private_ip']}:{replica_set['port']}"
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        client.test.made_by_the_second.insert_one({"_id": 1})
    _promote(pg_service, replica_set, primary["id"])  # the first primary again, demoted in between
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        assert client.admin.command("hello")["primary"] == f"{primary['private_ip']}:{replica_set['port']}"
        client.test.made_by_the_second.insert_one({"_id": 2})
        client.test.made_by_the_first_again.insert_one({"_id": 1})
        assert client.test.made_by_the_second.count_documents({}) == 2


def test_rolling_restart_keeps_taking_writes(pg_service: Service, replica_set: dict[str, Any]) -> None:
    started = {
        n["id"]: _node_dir(pg_service, replica_set["id"], f"{n['private_ip']}:{replica_set['port']}")
        for n in _nodes(pg_service, replica_set["id"])
    }
    pids = {i: (d / "engine.pid").read_text() for i, d in started.items()}
    _under_writer(pg_service, replica_set, "rolled", "restart", {})
    assert all((started[i] / "engine.pid").read_text() != pid for i, pid in pids.items()), "every member restarted"
    assert sorted(n["role"] for n in _nodes(pg_service, replica_set["id"])) == ["Primary", "Secondary", "Secondary"]


def test_rolling_resize_keeps_taking_writes(pg_service: Service, replica_set: dict[str, Any]) -> None:
    spec = "dds.mongodb.s2.large.4.repset"
    body = {"resize": {"target_id": replica_set["id"], "target_spec_code": spec}}
    _under_writer(pg_service, replica_set, "resized", "resize", body)
    inst = pg_service.instance(replica_set["id"])
    assert {n["spec_code"] for g in inst["groups"] for n in g["nodes"]} == {spec}


def _members_seen(inst: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(hello's hosts, rs.status() states) as a driver sees them."""
    with MongoClient(_uri(inst), serverSelectionTimeoutMS=20000) as client:
        hosts = sorted(client.admin.command("hello")["hosts"])
        states = sorted(m["stateStr"] for m in client.admin.command("replSetGetStatus")["members"])
    return hosts, states


def _majority_is_three_of_five(svc: Service, inst: dict[str, Any]) -> None:
    """With 5 members a `w: "majority"` write needs two standbys (the primary's synchronous
    replication waits for one): one standby receiving is not enough, two are."""
    receivers = _wal_receivers(svc.parts.settings.instances_dir / inst["id"])
    assert len(receivers) == 4, receivers
    with MongoClient(_uri(inst), serverSelectionTimeoutMS=20000, socketTimeoutMS=20000) as client:
        timed = client.test.get_collection("five", write_concern=WriteConcern(w="majority", wtimeout=1000))
        with _stopped(receivers[:3]):
            with pytest.raises(WriteConcernError) as raised:
                timed.insert_one({"_id": "one standby"})
            assert raised.value.code == 64
        with _stopped(receivers[:2]):
            timed.insert_one({"_id": "two standbys"})


def test_members_enlarged_3_5_7_and_shrunk_to_3(pg_service: Service, replica_set: dict[str, Any]) -> None:
    iid = replica_set["id"]
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000) as client:
        client.test.grown.insert_many([{"_id": i} for i in range(100)])
    with pg_service.client() as c:
        for bad in ({"num": 3}, {"num": 6}, {"num": "x"}):
            r = c.post(pg_service.path(f"/instances/{iid}/replicaset-node"), json=bad)
            assert r.status_code == 400 and r.json()["error_code"] in ("DBS.280123", "DBS.200001"), r.text
        for num, total in ((2, 5), (2, 7)):
            r = c.post(pg_service.path(f"/instances/{iid}/replicaset-node"), json={"num": num})
            assert r.status_code == 202, r.text
            assert pg_service.wait_job(r.json()["job_id"], timeout=300)["status"] == "Completed"
            nodes = _nodes(pg_service, iid)
            assert len(nodes) == total and all(n["status"] == "normal" for n in nodes)
            assert sorted(n["role"] for n in nodes) == ["Primary"] + ["Secondary"] * (total - 1)
            hosts, states = _members_seen(pg_service.instance(iid))
            assert len(hosts) == total and states == ["PRIMARY"] + ["SECONDARY"] * (total - 1)
            if total == 5:
                _majority_is_three_of_five(pg_service, replica_set)
        too_many = c.post(pg_service.path(f"/instances/{iid}/replicaset-node"), json={"num": 2})
        assert too_many.status_code == 400 and too_many.json()["error_code"] == "DBS.280123", too_many.text
        newest = max(_nodes(pg_service, iid), key=lambda n: n["name"])
        address = f"{newest['private_ip']}:{replica_set['port']}"
        direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{address}/?authSource=admin&directConnection=true"
        with MongoClient(direct, serverSelectionTimeoutMS=20000) as client:
            assert client.test.grown.count_documents({}) == 100, "a new member has the data"
        primary = next(n for n in _nodes(pg_service, iid) if n["role"] == "Primary")
        refused = c.request(
            "DELETE", pg_service.path(f"/instances/{iid}/nodes"), json={"num": 1, "node_list": [primary["id"]]}
        )
        assert refused.status_code == 400 and refused.json()["error_code"] == "DBS.200001", refused.text
        below = c.request("DELETE", pg_service.path(f"/instances/{iid}/nodes"), json={"num": 5})
        assert below.status_code == 400 and below.json()["error_code"] == "DBS.280123", below.text
        r = c.request("DELETE", pg_service.path(f"/instances/{iid}/nodes"), json={"num": 4})
        assert r.status_code == 202, r.text
        assert pg_service.wait_job(r.json()["job_id"], timeout=300)["status"] == "Completed"
    nodes = _nodes(pg_service, iid)
    assert len(nodes) == 3 and sorted(n["role"] for n in nodes) == ["Primary", "Secondary", "Secondary"]
    hosts, states = _members_seen(pg_service.instance(iid))
    assert len(hosts) == 3 and states == ["PRIMARY", "SECONDARY", "SECONDARY"]
    assert len([d for d in _instance_dir(pg_service, replica_set).iterdir() if (d / "pg").exists()]) == 3
    with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, w="majority") as client:
        client.test.grown.insert_one({"_id": "after"})
        assert client.test.grown.count_documents({}) == 101


def test_a_delayed_read_replica_is_added_and_deleted(pg_service: Service, replica_set: dict[str, Any]) -> None:
    iid = replica_set["id"]
    path = pg_service.path(f"/instances/{iid}/readonly-node")
    spec = "dds.mongodb.s6.large.4.rr"
    with pg_service.client() as c:
        for bad, code in (
            ({"spec_code": "dds.mongodb.s6.large.4.repset", "num": 1}, "DBS.280239"),
            ({"spec_code": spec, "num": 6}, "DBS.280123"),
            ({"spec_code": spec, "num": 1, "delay": 5000}, "DBS.200001"),
        ):
            r = c.post(path, json=bad)
            assert r.status_code == 400 and r.json()["error_code"] == code, r.text
        r = c.post(path, json={"spec_code": spec, "num": 1, "delay": 1000})
        assert r.status_code == 202, r.text
        assert pg_service.wait_job(r.json()["job_id"], timeout=300)["status"] == "Completed"
        replica = next(n for n in _nodes(pg_service, iid) if n["role"] == "ReadOnly")
        assert replica["spec_code"] == spec and replica["status"] == "normal"
        address = f"{replica['private_ip']}:{replica_set['port']}"
        with MongoClient(_uri(replica_set), serverSelectionTimeoutMS=20000, w="majority") as client:
            assert address not in client.admin.command("hello")["hosts"], "a read replica is not an HA member"
            conf = {m["host"]: m for m in client.admin.command("replSetGetConfig")["config"]["members"]}
            assert conf[address]["hidden"] is True and conf[address]["priority"] == 0
            assert conf[address]["secondaryDelaySecs"] == 1
            client.test.delayed.insert_one({"_id": "late"})
            direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{address}/?authSource=admin&directConnection=true"
            with MongoClient(direct, serverSelectionTimeoutMS=20000) as mirror:
                assert mirror.admin.command("hello")["hidden"] is True
                assert mirror.test.delayed.find_one({"_id": "late"}) is None, "applied before its delay"
                deadline = time.monotonic() + 15
                while mirror.test.delayed.find_one({"_id": "late"}) is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert mirror.test.delayed.find_one({"_id": "late"}) == {"_id": "late"}
                with pytest.raises(NotPrimaryError):
                    mirror.test.delayed.insert_one({"_id": "refused"})
        not_replica = next(n for n in _nodes(pg_service, iid) if n["role"] == "Secondary")
        refused = c.request("DELETE", path, json={"node_list": [not_replica["id"]]})
        assert refused.status_code == 400 and refused.json()["error_code"] == "DBS.200001", refused.text
        r = c.request("DELETE", path, json={"node_list": [replica["id"]]})
        assert r.status_code == 202, r.text
        assert pg_service.wait_job(r.json()["job_id"], timeout=300)["status"] == "Completed"
    nodes = _nodes(pg_service, iid)
    assert sorted(n["role"] for n in nodes) == ["Primary", "Secondary", "Secondary"]


def _failover(svc: Service, inst: dict[str, Any], collection: str, harm: str) -> None:
    with Writer(inst, collection) as writer:
        time.sleep(2)
        assert writer.acked, "the writer writes before the failover"
        primary = writer.client.admin.command("hello")["primary"]
        node_dir = _node_dir(svc, inst["id"], primary)
        t0 = time.monotonic()
        if harm == "kill":
            for role in ("storage", "engine", "gateway"):
                pid = int((node_dir / f"{role}.pid").read_text())
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        else:
            for _ in range(3):  # the running server writes while its files go
                shutil.rmtree(node_dir / "pg" / "pgdata", ignore_errors=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(t > t0 + 1 for _, t in writer.acked[-1:]):
            time.sleep(0.2)
        time.sleep(2)
    gap = writer.longest_gap_after(t0)
    assert gap <= RESUME_WITHIN_S, f"writes resumed after {gap:.1f} s"
    with MongoClient(_uri(inst), serverSelectionTimeoutMS=30000) as client:
        try:
            now_primary = client.admin.command("hello")["primary"]
        except ServerSelectionTimeoutError as e:
            raise AssertionError(f"no primary after the failover: {e}\n{member_logs(node_dir.parent, 40)}") from e
        assert now_primary != primary
        have = {d["_id"] for d in client.test[collection].find({}, {"_id": 1})}
    lost = {i for i, _ in writer.acked} - have
    assert not lost, f"{len(lost)} acknowledged majority writes lost"
    # the harmed member comes back as a secondary, caught up; another one is Primary in the API
    deadline = time.monotonic() + 120
    roles: dict[str, str] = {}
    while time.monotonic() < deadline:
        nodes = _nodes(svc, inst["id"])
        roles = {n["id"]: n["role"] for n in nodes}
        if roles.get(node_dir.name) == "Secondary" and all(n["status"] == "normal" for n in nodes):
            break
        time.sleep(1)
    assert roles.get(node_dir.name) == "Secondary" and list(roles.values()).count("Primary") == 1, (
        f"{roles}\n{member_logs(node_dir.parent)}"
    )
    host, port = primary.rsplit(":", 1)
    direct = f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true"
    with MongoClient(direct, serverSelectionTimeoutMS=30000) as client:
        deadline = time.monotonic() + 30
        while client.test[collection].count_documents({}) < len(have) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.test[collection].count_documents({}) >= len(have), "the old primary caught up"


def test_failover_when_every_process_of_the_primary_is_killed(pg_service: Service, replica_set: dict[str, Any]) -> None:
    _failover(pg_service, replica_set, "killed", "kill")


def test_failover_when_the_primary_loses_its_data(pg_service: Service, replica_set: dict[str, Any]) -> None:
    _failover(pg_service, replica_set, "deleted", "rmdata")
