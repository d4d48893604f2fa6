"""Requests the engine cannot handle get an error reply on a connection that stays; a killed
session's operation ends with `Interrupted` on its own connection and is not run again.

Through the real service: an instance (FerretDB engine + gateway), pymongo clients with one
pooled connection and CMAP/command listeners, so "the same connection" and "not retried" are
what the driver itself reports.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from bson import Code, MaxKey, MinKey
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient, WriteConcern, monitoring
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import wait_for

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("gw-refusals") as inst:
        yield inst


class Recorder(monitoring.ConnectionPoolListener, monitoring.CommandListener):
    """What the driver did: connections opened and closed, commands started (retries included)."""

    def __init__(self) -> None:
        self.created: list[int] = []
        self.closed: list[int] = []
        self.commands: list[str] = []

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self.created.append(event.connection_id)

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        self.closed.append(event.connection_id)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        pass

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        pass

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        pass

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        pass

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        pass

    def connection_check_out_started(self, event: monitoring.ConnectionCheckOutStartedEvent) -> None:
        pass

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        pass

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        pass

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        pass


def one_connection_client(instance: dict[str, Any], recorder: Recorder) -> MongoClient[dict[str, Any]]:
    node = instance["groups"][0]["nodes"][0]
    host, port = node["private_ip"], int(instance["port"])
    return MongoClient(
        f"mongodb://rwuser:{quote_plus(PASSWORD)}@{host}:{port}/?authSource=admin&directConnection=true",
        maxPoolSize=1,
        serverSelectionTimeoutMS=5000,
        event_listeners=[recorder],
    )


def connection_marks(client: MongoClient[dict[str, Any]]) -> tuple[Any, Any]:
    """The gateway's id for this client connection (hello) and the engine's view of the gateway (whatsmyuri)."""
    return client.admin.command("hello")["connectionId"], client.admin.command("whatsmyuri")["you"]


def duplicate_set() -> RawBSONDocument:
    """{a: 1, a: 2}: a document bson.encode cannot write (the engine panics on it inside `$set`)."""
    element = b"\x10a\x00"
    inner = element + (1).to_bytes(4, "little") + element + (2).to_bytes(4, "little")
    return RawBSONDocument(len(inner + b"\x00\x00\x00\x00\x00").to_bytes(4, "little") + inner + b"\x00")


def in_transaction(coll: Any) -> None:
    with coll.database.client.start_session() as session, session.start_transaction():
        coll.insert_one({"_id": 99}, session=session)


# (what, the request, the expected code, words the errmsg must hold)
REQUESTS: list[tuple[str, Callable[[Any], Any], int, str]] = [
    (
        "MinKey insert",
        lambda coll: coll.insert_one({"_id": 1, "price": MinKey()}),
        238,
        "MinKey values are not supported by this instance's database engine (field 'documents.0.price')",
    ),
    (
        "JavaScript code in a query ($where)",
        lambda coll: coll.find_one({"$where": Code("this.a == 1")}),
        238,
        "JavaScript code values are not supported",
    ),
    (
        "code with scope in a document",
        lambda coll: coll.insert_one({"_id": 2, "f": Code("return x", {"x": 1})}),
        238,
        "JavaScript code with scope values are not supported",
    ),
    ("MinKey in a range query", lambda coll: coll.find_one({"a": {"$gt": MinKey()}}), 238, "'filter.a.$gt'"),
    ("MaxKey in a document", lambda coll: coll.insert_one({"_id": 3, "top": MaxKey()}), 238, "MaxKey"),
    ("NaN in a document", lambda coll: coll.insert_one({"_id": 4, "x": math.nan}), 238, "NaN values"),
    (
        "a multi-document transaction",
        lambda coll: in_transaction(coll),
        238,
        "multi-document transactions are not supported",
    ),
    (
        "a database-level aggregate other than a change stream ($documents)",
        lambda coll: list(coll.database.aggregate([{"$documents": [{"a": 1}]}])),
        238,
        "aggregate on a whole database",
    ),
    (
        "a field repeated inside $set",
        lambda coll: coll.update_one({"_id": 0}, {"$set": duplicate_set()}),
        2,
        "field name 'a' appears twice in 'updates.0.u.$set'",
    ),
]


def test_requests_the_engine_cannot_handle_get_errors_on_the_same_connection(instance: dict[str, Any]) -> None:
    recorder = Recorder()
    with one_connection_client(instance, recorder) as client:
        coll = client.refusals.items
        coll.insert_one({"_id": 0, "a": 0})
        marks = connection_marks(client)
        for what, run, code, words in REQUESTS:
            with pytest.raises(OperationFailure) as failed:
                run(coll)
            assert failed.value.code == code, (what, failed.value.details)
            assert words in str(failed.value.details.get("errmsg") if failed.value.details else ""), (what, failed)
            # The very next command runs on the same client connection and the same engine connection.
            assert coll.find_one({"_id": 0}) == {"_id": 0, "a": 0}, what
            assert connection_marks(client) == marks, what
        # w:0 gets no reply: the refusal must not cost the connection either.
        coll.with_options(write_concern=WriteConcern(w=0)).insert_one({"_id": 5, "p": MinKey()})
        assert connection_marks(client) == marks
        # One document of a batch (an OP_MSG document sequence): the whole batch is refused, none stored.
        batch = [{"_id": 10 + i, "p": i} for i in range(5)] + [{"_id": 20, "p": MinKey()}]
        with pytest.raises(OperationFailure) as failed:
            coll.insert_many(batch)
        assert failed.value.code == 238 and "'documents.5.p'" in str(failed.value)
        assert sorted(d["_id"] for d in coll.find()) == [0]
        assert connection_marks(client) == marks
    assert len(recorder.created) == 1 and recorder.closed in ([], recorder.created), recorder.__dict__


def sessions(service: Service, c: httpx.Client, node_id: str) -> list[dict[str, Any]]:
    r = c.get(service.path(f"/nodes/{node_id}/sessions"))
    assert r.status_code == 200, r.text
    return r.json()["sessions"]  # type: ignore[no-any-return]


# Hundreds of in-memory sorts of every document: the engine needs well over 5 s for this.
SLOW_PIPELINE = [{"$sort": {"s": 1, "i": 1 if k % 2 else -1}} for k in range(400)] + [{"$count": "n"}]


def test_killed_session_ends_its_running_query_with_interrupted_and_no_retry(
    service: Service, instance: dict[str, Any]
) -> None:
    node_id = str(instance["groups"][0]["nodes"][0]["id"])
    recorder = Recorder()
    with one_connection_client(instance, recorder) as client, service.client() as api:
        coll = client.refusals.big
        coll.drop()
        for start in range(0, 20_000, 5000):
            coll.insert_many([{"i": i, "s": f"row-{i % 977:04d}"} for i in range(start, start + 5000)])
        recorder.commands.clear()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = list(coll.aggregate(SLOW_PIPELINE))  # retryable read: pymongo retries once
            except BaseException as exc:  # noqa: BLE001 - examined below
                outcome["error"] = exc
            outcome["ended"] = time.monotonic()

        worker = threading.Thread(target=run)
        started = time.monotonic()
        worker.start()
        running = wait_for(
            lambda: [s for s in sessions(service, api, node_id) if s["active"] and s["namespace"] == "refusals.big"],
            10,
            "the aggregation running",
            every=0.05,
        )
        assert running[0]["operation"] == "aggregate"
        time.sleep(max(0.0, started + 1.0 - time.monotonic()))  # a second into the work
        r = api.post(service.path(f"/nodes/{node_id}/session"), json={"sessions": [running[0]["id"]]})
        assert r.status_code == 200, r.text
        killed = time.monotonic()
        worker.join(10)
        assert not worker.is_alive()
        error = outcome.get("error")
        assert isinstance(error, OperationFailure), outcome
        assert error.code == 11601 and error.details is not None, error
        assert error.details["codeName"] == "Interrupted" and error.details["errmsg"] == "operation was interrupted"
        assert outcome["ended"] - killed < 2.0, outcome["ended"] - killed
        assert outcome["ended"] - started < 5.0  # it was ended, not finished
        # Not run again: the driver started it once, and nothing runs it on the node afterwards.
        assert recorder.commands.count("aggregate") == 1, recorder.commands
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert not [s for s in sessions(service, api, node_id) if s["active"]], "a retry is running"
            time.sleep(0.2)
        assert all(s["id"] != running[0]["id"] for s in sessions(service, api, node_id))
        # The client goes on (on a new connection: the killed one is closed, as its engine connection).
        assert coll.estimated_document_count() == 20_000
