"""One changing job per instance at a time, as on DDS: while a job changes an instance, every
other changing request for it — delete included — is refused with DBS.200011 and changes
nothing; once the job has ended, a delete goes through the recycle bin as the policy promises.

"While a job runs" is made exact by holding the job workers: a job queued meanwhile stays
`Running` (as the API reports it) until the block ends, then runs for real. One more test sends
the reported sequence (a replica-set rename, then a delete 0 ms later) with the workers running,
and one fires concurrent requests to show that only one of them gets the instance.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dds.db.models import Job
from dds.jobs.worker import WorkerPool
from tests import conftest
from tests.conftest import PASSWORD, Service, run_service
from tests.helpers import connect, free_port, instance_body

Request = Callable[[httpx.Client, str], httpx.Response]
REFUSED = {"DBS.200011", "DBS.201202"}  # "state does not allow"; a backup's own word for it


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service, stop = run_service(conftest.test_settings(tmp_path_factory.mktemp("one-job")))
    with service.client() as c:
        policy = {"recycle_policy": {"enabled": True, "retention_period_in_days": 1}}
        assert c.put(service.path("/instances/recycle-policy"), json=policy).status_code == 200
    yield service
    stop()


@pytest.fixture(scope="module")
def backup(svc: Service) -> Iterator[str]:
    """A completed backup of an instance with data, for the restore kinds: `<instance id>/<backup id>`."""
    with svc.ready_instance("one-job-src") as inst:
        with connect(inst, PASSWORD) as client:
            client.app.c.insert_many([{"_id": i} for i in range(20)])
        with svc.client() as c:
            r = c.post(svc.path("/backups"), json={"backup": {"instance_id": inst["id"], "name": "one-job-base"}})
            assert r.status_code == 200, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
        yield f"{inst['id']}/{r.json()['backup_id']}"


@contextlib.contextmanager
def held_jobs(svc: Service) -> Iterator[None]:
    """Jobs queued in the block stay Running and unclaimed until it ends; then they run."""
    server = svc.server
    server.workers.stop()
    try:
        yield
    finally:
        server.workers = WorkerPool(svc.parts, server.registry, svc.parts.settings.worker_threads)
        server.workers.start()


def _spec(c: httpx.Client, svc: Service, iid: str) -> str:
    inst = c.get(svc.path("/instances"), params={"id": iid}).json()["instances"][0]
    current = inst["groups"][0]["nodes"][0]["spec_code"]
    return (
        "dds.mongodb.s2.large.4.repset"
        if current != "dds.mongodb.s2.large.4.repset"
        else "dds.mongodb.s2.xlarge.4.repset"
    )


def changing_requests(svc: Service, backup: str) -> dict[str, Request]:
    """Every request that starts a job changing the given instance."""
    p = svc.path
    source, backup_id = backup.split("/")
    return {
        "restart": lambda c, i: c.post(p(f"/instances/{i}/restart"), json={"target_id": i}),
        "replica-set-name": lambda c, i: c.put(p(f"/instances/{i}/replica-set/name"), json={"name": "renamed_rs"}),
        "modify-port": lambda c, i: c.post(p(f"/instances/{i}/modify-port"), json={"port": free_port()}),
        "enlarge": lambda c, i: c.post(p(f"/instances/{i}/enlarge-volume"), json={"volume": {"size": 20}}),
        "resize": lambda c, i: c.post(
            p(f"/instances/{i}/resize"),
            json={"resize": {"target_type": "replica", "target_id": i, "target_spec_code": _spec(c, svc, i)}},
        ),
        "parameters-restart": lambda c, i: c.put(
            p(f"/instances/{i}/configurations"),
            json={"entity_id": i, "parameter_values": {"storage.cacheSizeMB": "48"}},
        ),
        "parameters-online": lambda c, i: c.put(
            p(f"/instances/{i}/configurations"),
            json={"entity_id": i, "parameter_values": {"net.maxIncomingConnections": "333"}},
        ),
        "switch-ssl": lambda c, i: c.post(p(f"/instances/{i}/switch-ssl"), json={"ssl_option": "1"}),
        "backup": lambda c, i: c.post(p("/backups"), json={"backup": {"instance_id": i, "name": f"b-{free_port()}"}}),
        "restore-onto": lambda c, i: c.post(
            p("/instances/recovery"),
            json={
                "source": {"type": "backup", "instance_id": source, "backup_id": backup_id},
                "target": {"instance_id": i},
            },
        ),
        "delete": lambda c, i: c.delete(p(f"/instances/{i}")),
    }


def _ready(svc: Service, name: str) -> str:
    created = svc.create_instance(name)
    assert svc.wait_job(created["job_id"])["status"] == "Completed"
    return str(created["id"])


def _jobs(c: httpx.Client, svc: Service, iid: str) -> list[str]:
    """The instance's jobs, from the metadata store (the task list has no instance filter)."""
    with svc.parts.db.session() as s:
        return sorted(s.scalars(select(Job.id).where(Job.instance_id == iid)))


def _state(c: httpx.Client, svc: Service, iid: str) -> tuple[Any, ...]:
    inst = c.get(svc.path("/instances"), params={"id": iid}).json()["instances"][0]
    return inst["status"], inst["port"], inst["ssl"], inst["groups"][0]["volume"]["size"], _jobs(c, svc, iid)


def _assert_refused(r: httpx.Response, what: str) -> None:
    assert r.status_code in (400, 403), (what, r.status_code, r.text)
    assert r.json()["error_code"] in REFUSED, (what, r.text)


def _starts(svc: Service, backup: str) -> dict[str, Callable[[httpx.Client, str], tuple[str, str]]]:
    """Each changing job kind, started on the given ready instance (create and restore-new make
    their own): (the instance it changes, its job id)."""

    def on(kind: str) -> Callable[[httpx.Client, str], tuple[str, str]]:
        def start(c: httpx.Client, iid: str) -> tuple[str, str]:
            r = changing_requests(svc, backup)[kind](c, iid)
            assert r.status_code in (200, 202), (kind, r.text)
            return iid, str(r.json()["job_id"])

        return start

    def create(c: httpx.Client, _: str) -> tuple[str, str]:
        r = c.post(svc.path("/instances"), json=instance_body("oj-create", PASSWORD))
        assert r.status_code == 202, r.text
        return str(r.json()["id"]), str(r.json()["job_id"])

    def restore_new(c: httpx.Client, _: str) -> tuple[str, str]:
        body = {**instance_body("oj-restore-new", PASSWORD), "restore_point": {"backup_id": backup.split("/")[1]}}
        r = c.post(svc.path("/instances"), json=body)
        assert r.status_code == 202, r.text
        return str(r.json()["id"]), str(r.json()["job_id"])

    kinds = [k for k in changing_requests(svc, backup) if k != "delete"]
    return {"create": create, "restore-new": restore_new, **{k: on(k) for k in kinds}}


KINDS = [
    "create",
    "restore-new",
    "restart",
    "replica-set-name",
    "modify-port",
    "enlarge",
    "resize",
    "parameters-restart",
    "parameters-online",
    "switch-ssl",
    "backup",
    "restore-onto",
]


@pytest.mark.parametrize("kind", KINDS)
def test_while_a_job_changes_an_instance_every_other_change_is_refused(svc: Service, backup: str, kind: str) -> None:
    requests = changing_requests(svc, backup)
    with svc.client() as c:
        ready = "" if kind in ("create", "restore-new") else _ready(svc, f"oj-{kind}")
        with held_jobs(svc):
            iid, job_id = _starts(svc, backup)[kind](c, ready)
            before = _state(c, svc, iid)
            for other, send in requests.items():  # delete among them: it must not skip the bin
                _assert_refused(send(c, iid), f"{other} during {kind}")
            assert _state(c, svc, iid) == before, "a refused request changed something"
        assert svc.wait_job(job_id)["status"] == "Completed"

        r = c.delete(svc.path(f"/instances/{iid}"))  # the job has ended: now the delete goes through
        assert r.status_code == 202, r.text
        assert svc.wait_job(r.json()["job_id"])["status"] == "Completed"
        binned = c.get(svc.path("/recycle-instances")).json()["instances"]
        assert iid in {i["id"] for i in binned}, "the delete skipped the recycle bin"


def test_a_delete_right_after_a_replica_set_rename_is_refused(svc: Service) -> None:
    """The reported sequence, with the workers running: the rename's restart job is still under
    way when the delete arrives (sent at once), so the delete is refused; after it, it is binned."""
    iid = _ready(svc, "oj-rename-race")
    with svc.client() as c:
        renamed = c.put(svc.path(f"/instances/{iid}/replica-set/name"), json={"name": "raced_rs"})
        assert renamed.status_code in (200, 202), renamed.text
        _assert_refused(c.delete(svc.path(f"/instances/{iid}")), "delete right after a rename")
        assert svc.wait_job(renamed.json()["job_id"])["status"] == "Completed"
        r = c.delete(svc.path(f"/instances/{iid}"))
        assert r.status_code == 202 and svc.wait_job(r.json()["job_id"])["status"] == "Completed", r.text
        assert iid in {i["id"] for i in c.get(svc.path("/recycle-instances")).json()["instances"]}


def test_of_concurrent_changing_requests_exactly_one_gets_the_instance(svc: Service, backup: str) -> None:
    iid = _ready(svc, "oj-concurrent")
    requests = changing_requests(svc, backup)
    kinds = ["restart", "delete", "enlarge", "parameters-online", "switch-ssl", "restart", "delete", "backup"]
    answers: list[httpx.Response] = []
    go = threading.Barrier(len(kinds))

    def send(kind: str) -> None:
        with svc.client() as c:
            go.wait()
            answers.append(requests[kind](c, iid))

    with held_jobs(svc):
        threads = [threading.Thread(target=send, args=(k,)) for k in kinds]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        accepted = [r for r in answers if r.status_code in (200, 202)]
        assert len(answers) == len(kinds) and len(accepted) == 1, [(r.status_code, r.text) for r in answers]
        for r in answers:
            if r not in accepted:
                _assert_refused(r, "a concurrent request")
        with svc.client() as c:
            assert len(_jobs(c, svc, iid)) == 2  # its create and the one accepted
    job = svc.wait_job(accepted[0].json()["job_id"])
    assert job["status"] == "Completed", job
    with svc.client() as c:
        if c.get(svc.path("/instances"), params={"id": iid}).json()["instances"]:
            svc.delete_instance(iid)
