"""The instance gateway without an engine: wire parsing, rules, logs, and a live gateway in front of fakes.

Messages are built here with struct + bson (not with the gateway's own builders) so a wrong
parser cannot agree with a wrong builder. Hypothesis throws random and mutated messages at
the parsers: the only exception allowed out is ProtocolError.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dds.gateway import wire
from dds.gateway.auth import AuthOutcome, Guard, Identity, scram_user
from dds.gateway.config import ConfigError, config_from_json, dump_config, load_config
from dds.gateway.errors import ErrorCode, ProtocolError, Refusal
from dds.gateway.fields import Fields
from dds.gateway.hello import Topology, local_reply, rewrite_hello
from dds.gateway.logs import RotatingJsonLines
from dds.gateway.redact import command_shape
from dds.gateway.server import Gateway

# --- message builders (independent of the gateway's) -------------------------------------------


def op_msg(doc: dict[str, Any], flags: int = 0, request_id: int = 7, sequences: tuple[Any, ...] = ()) -> bytes:
    body = struct.pack("<I", flags) + b"\x00" + bson.encode(doc)
    for identifier, docs in sequences:
        payload = identifier.encode() + b"\x00" + b"".join(bson.encode(d) for d in docs)
        body += b"\x01" + struct.pack("<i", len(payload) + 4) + payload
    if flags & 1:
        body += b"\xde\xad\xbe\xef"  # checksum: the gateway does not verify it, the engine does
    return struct.pack("<iiii", 16 + len(body), request_id, 0, 2013) + body


def op_query(doc: dict[str, Any], collection: str = "admin.$cmd", request_id: int = 9) -> bytes:
    body = struct.pack("<i", 0) + collection.encode() + b"\x00" + struct.pack("<ii", 0, -1) + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), request_id, 0, 2004) + body


def raw_doc(*elements: bytes) -> bytes:
    """A BSON document from hand-made elements (to build duplicates bson.encode cannot)."""
    inner = b"".join(elements)
    return struct.pack("<i", len(inner) + 5) + inner + b"\x00"


def string_element(name: str, value: str) -> bytes:
    encoded = value.encode() + b"\x00"
    return b"\x02" + name.encode() + b"\x00" + struct.pack("<i", len(encoded)) + encoded


def op_msg_raw(document: bytes, request_id: int = 7) -> bytes:
    body = b"\x00\x00\x00\x00\x00" + document
    return struct.pack("<iiii", 16 + len(body), request_id, 0, 2013) + body


def relength(message: bytes) -> bytes:
    """The message with its header length fixed after appending bytes."""
    return struct.pack("<i", len(message)) + message[4:]


def decode_reply(message: bytes) -> tuple[int, dict[str, Any]]:
    """(responseTo, document) of an OP_MSG or OP_REPLY."""
    length, _, response_to, op_code = struct.unpack_from("<iiii", message)
    assert length == len(message)
    if op_code == 2013:
        assert message[16:21] == b"\x00\x00\x00\x00\x00"  # no flags (never moreToCome), one kind-0 section
        return response_to, bson.decode(message[21:])
    assert op_code == 1
    assert struct.unpack_from("<iqii", message, 16) == (0, 0, 0, 1)
    return response_to, bson.decode(message[36:])


# --- framing and OP_MSG -----------------------------------------------------------------------


def test_frame_length_waits_for_four_bytes_and_checks_bounds() -> None:
    msg = op_msg({"ping": 1, "$db": "admin"})
    assert wire.frame_length(msg[:3]) is None
    assert wire.frame_length(msg[:4]) == len(msg)
    with pytest.raises(ProtocolError, match="exceeds"):
        wire.frame_length(struct.pack("<i", 48_000_001))
    assert wire.frame_length(struct.pack("<i", 48_000_000)) == 48_000_000
    with pytest.raises(ProtocolError, match="shorter than a header"):
        wire.frame_length(struct.pack("<i", 15))
    with pytest.raises(ProtocolError):
        wire.frame_length(struct.pack("<i", -5))


def test_op_msg_kind0_round_trip() -> None:
    request = wire.parse_request(op_msg({"find": "people", "filter": {"age": 3}, "$db": "shop"}, request_id=42))
    assert request.header == wire.Header(len(request.data), 42, 0, 2013)
    assert (request.command, request.db, request.namespace) == ("find", "shop", "shop.people")
    assert request.body.get("filter") == {"age": 3}
    assert not request.legacy and not request.more_to_come and not request.exhaust_allowed
    assert request.sequences == ()


def test_op_msg_kind1_sequences() -> None:
    docs = [{"_id": i, "pad": "x" * i} for i in range(5)]
    msg = op_msg({"insert": "c", "$db": "d"}, sequences=(("documents", docs), ("other", [{"a": 1}])))
    request = wire.parse_request(msg)
    assert [s.identifier for s in request.sequences] == ["documents", "other"]
    assert wire.count_documents(request.data, request.sequences[0]) == 5
    first = request.sequences[0]
    assert bson.decode_all(request.data[first.start : first.end]) == docs
    assert request.command == "insert" and request.namespace == "d.c"


def test_op_msg_flags_checksum_more_to_come_exhaust() -> None:
    request = wire.parse_request(op_msg({"insert": "c", "$db": "d"}, flags=0b11, sequences=(("documents", [{}]),)))
    assert request.more_to_come
    assert request.flags & wire.CHECKSUM_PRESENT
    assert wire.count_documents(request.data, request.sequences[0]) == 1  # the 4 checksum bytes are not a section
    assert wire.parse_request(op_msg({"getMore": 1, "$db": "d"}, flags=1 << 16)).exhaust_allowed
    with pytest.raises(ProtocolError, match="unknown required flag"):
        wire.parse_request(op_msg({"ping": 1}, flags=1 << 5))


def test_op_msg_malformed_sections_are_refused() -> None:
    good = op_msg({"ping": 1, "$db": "admin"})
    two_bodies = relength(good + b"\x00" + bson.encode({"x": 1}))
    with pytest.raises(ProtocolError, match="two kind-0"):
        wire.parse_request(two_bodies)
    bad_kind = good[:20] + b"\x02" + good[21:]
    with pytest.raises(ProtocolError, match="section kind 2"):
        wire.parse_request(bad_kind)
    only_sequence = struct.pack("<I", 0) + b"\x01" + struct.pack("<i", 9) + b"docs\x00"
    with pytest.raises(ProtocolError, match="without a kind-0"):
        wire.parse_request(struct.pack("<iiii", 16 + len(only_sequence), 1, 0, 2013) + only_sequence)
    with pytest.raises(ProtocolError, match="header says"):
        wire.parse_request(good + b"\x00")
    with pytest.raises(ProtocolError, match="opcode 2012"):
        wire.parse_request(struct.pack("<iiii", 16, 1, 0, 2012))  # OP_COMPRESSED
    with pytest.raises(ProtocolError, match="opcode 2010"):
        wire.parse_request(struct.pack("<iiii", 20, 1, 0, 2010) + b"\x00" * 4)


def test_op_query_round_trip_and_reply() -> None:
    request = wire.parse_request(op_query({"isMaster": 1, "helloOk": True}, request_id=5))
    assert request.legacy and request.command == "isMaster" and request.db == "admin"
    assert request.legacy_collection == "admin.$cmd"
    response_to, doc = decode_reply(wire.reply_for(request, {"ok": 1.0, "x": "y"}))
    assert response_to == 5 and doc == {"ok": 1.0, "x": "y"}
    reply = wire.parse_reply(wire.reply_for(request, {"ok": 1.0}))
    assert reply.ok and reply.header.op_code == wire.OP_REPLY
    with pytest.raises(ProtocolError, match="bytes after"):
        wire.parse_request(relength(op_query({"isMaster": 1}) + bson.encode({}) + b"\x01"))


def test_replies_and_errors() -> None:
    request = wire.parse_request(op_msg({"ping": 1, "$db": "admin"}, request_id=77))
    message = wire.reply_for(request, wire.error_document(ErrorCode.Unauthorized, "no"))
    response_to, doc = decode_reply(message)
    assert response_to == 77
    assert doc == {"ok": 0.0, "errmsg": "no", "code": 13, "codeName": "Unauthorized"}
    reply = wire.parse_reply(message)
    assert not reply.ok and reply.body.get("code") == 13
    for ok, expected in ((1, True), (1.0, True), (True, True), (0, False), (0.0, False), ("1", False)):
        assert wire.parse_reply(wire.build_op_msg({"ok": ok}, 1)).ok is expected
    assert not wire.parse_reply(wire.build_op_msg({"n": 1}, 1)).ok


def test_reply_more_to_come_is_cleared() -> None:
    reply = wire.parse_reply(op_msg({"ok": 1.0}, flags=wire.MORE_TO_COME))
    patched = wire.without_more_to_come(reply)
    assert struct.unpack_from("<I", patched, 16)[0] == 0
    assert patched[20:] == reply.data[20:]


def test_with_new_body_keeps_id_and_sequences_and_drops_checksum() -> None:
    msg = op_msg({"hello": 1, "$db": "admin", "x": 1}, flags=wire.CHECKSUM_PRESENT, request_id=11)
    request = wire.parse_request(msg)
    rebuilt = wire.parse_request(wire.with_new_body(request, {"hello": 1, "$db": "admin"}))
    assert rebuilt.header.request_id == 11 and rebuilt.flags == 0
    assert rebuilt.body.decode() == {"hello": 1, "$db": "admin"}
    with_seq = wire.parse_request(op_msg({"insert": "c", "$db": "d"}, sequences=(("documents", [{"a": 1}]),)))
    again = wire.parse_request(wire.with_new_body(with_seq, {"insert": "c", "$db": "d"}))
    assert again.sequences[0].identifier == "documents"
    assert wire.count_documents(again.data, again.sequences[0]) == 1
    legacy = wire.parse_request(op_query({"isMaster": 1, "x": 2}, request_id=3))
    again = wire.parse_request(wire.with_new_body(legacy, {"isMaster": 1}))
    assert again.legacy and again.header.request_id == 3 and again.body.decode() == {"isMaster": 1}


# --- Fields -----------------------------------------------------------------------------------


def test_fields_skip_nested_values_and_decode_on_demand() -> None:
    doc = {
        "aggregate": "c",
        "pipeline": [{"$match": {"a": {"$gt": 1}}}],
        "cursor": {},
        "d": 1.5,
        "i": 7,
        "l": bson.Int64(2**40),
        "b": True,
        "n": None,
        "bin": bson.Binary(b"\x00\x01", 5),
        "oid": bson.ObjectId(),
        "re": bson.Regex("a.b", "i"),
        "ts": bson.Timestamp(5, 6),
        "dec": bson.Decimal128("1.5"),
        "$db": "x",
    }
    fields = Fields(bson.encode(doc))
    assert fields.first == "aggregate" and fields.duplicate is None
    assert list(fields.spans) == list(doc)
    for key, value in doc.items():
        assert fields.get(key) == value, key
    assert fields.get_str("aggregate") == "c" and fields.get_str("i") is None
    assert fields.get("missing", 3) == 3
    sub = fields.sub("cursor")
    assert sub is not None and sub.first is None
    assert fields.decode() == doc


def test_fields_report_duplicates() -> None:
    document = raw_doc(string_element("find", "c"), string_element("find", "system.users"))
    fields = Fields(document)
    assert fields.duplicate == "find"
    assert fields.get("find") == "c"  # the first; the guard refuses such commands anyway


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"\x05\x00\x00",
        struct.pack("<i", 4) + b"\x00",
        struct.pack("<i", 6) + b"\x02\x00",  # element runs past the end
        raw_doc(b"\x02a\x00" + struct.pack("<i", 100) + b"x\x00"),
        raw_doc(b"\x03a\x00" + struct.pack("<i", 3)),
        raw_doc(b"\x99a\x00"),
        raw_doc(b"\x10a\xff\x00" + b"\x01\x00\x00\x00"),
        struct.pack("<i", 8) + b"\x0aa\x00\x01",  # does not end with NUL
    ],
)
def test_fields_refuse_malformed_documents(document: bytes) -> None:
    with pytest.raises(ProtocolError):
        Fields(document)


# --- hello and replica set ----------------------------------------------------------------------

TOPOLOGY = Topology("db.example:8635", "replica", datetime(2026, 1, 1, tzinfo=UTC))


def test_hello_rewrite_advertises_the_gateway() -> None:
    engine_reply = {
        "isWritablePrimary": True,
        "setName": "replica",
        "hosts": ["127.0.0.1:27017"],
        "connectionId": 42,
        "compression": ["zstd"],
        "ok": 1.0,
    }
    out = rewrite_hello(engine_reply, TOPOLOGY, 9)
    assert out["hosts"] == ["db.example:8635"]
    assert out["me"] == out["primary"] == "db.example:8635"
    assert out["setName"] == "replica" and out["connectionId"] == 9
    assert "compression" not in out and "127.0.0.1:27017" not in json.dumps(out)
    single = rewrite_hello(
        {"ismaster": True, "connectionId": 42, "ok": 1.0}, Topology("h:1", None, TOPOLOGY.started), 3
    )
    assert single == {"ismaster": True, "connectionId": 3, "ok": 1.0}


def test_repl_set_status_and_config() -> None:
    status = local_reply("replSetGetStatus", TOPOLOGY)
    assert status["set"] == "replica" and status["myState"] == 1 and status["ok"] == 1.0
    (member,) = status["members"]
    assert member["name"] == "db.example:8635" and member["stateStr"] == "PRIMARY" and member["health"] == 1.0
    assert member["uptime"] > 0
    bson.encode(status)  # encodable as it is
    config = local_reply("replSetGetConfig", TOPOLOGY)["config"]
    assert config["_id"] == "replica" and config["members"][0]["host"] == "db.example:8635"
    with pytest.raises(Refusal) as refused:
        local_reply("replSetGetStatus", Topology("h:1", None, TOPOLOGY.started))
    assert refused.value.code is ErrorCode.NoReplicationEnabled and int(refused.value.code) == 76


# --- identity and protections -----------------------------------------------------------------


def test_scram_user_parsing() -> None:
    assert scram_user(b"n,,n=rwuser,r=abc") == "rwuser"
    assert scram_user(b"y,,n=a=2Cb=3Dc,r=abc") == "a,b=c"
    for bad in (b"p=tls-unique,,n=u,r=x", b"n,a=dds_service,n=u,r=x", b"n,,r=x,n=u", b"n,,n=a=2Xb,r=x", b"\xff", b""):
        with pytest.raises(Refusal) as refused:
            scram_user(bad)
        assert refused.value.code == ErrorCode.AuthenticationFailed


def sasl_start(user: str, mechanism: str = "SCRAM-SHA-256", db: str = "admin") -> bytes:
    payload = bson.Binary(f"n,,n={user},r=nonce".encode())
    return op_msg({"saslStart": 1, "mechanism": mechanism, "payload": payload, "$db": db})


GUARD = Guard(frozenset({"dds_service"}))


def logged_in() -> Identity:
    identity = Identity()
    identity.authenticated, identity.user, identity.db = True, "rwuser", "admin"
    return identity


def refused_code(message: bytes, identity: Identity | None = None) -> int | None:
    try:
        GUARD.check(wire.parse_request(message), identity or logged_in())
    except Refusal as refusal:
        return int(refusal.code)
    return None


def test_guard_protects_the_service_user() -> None:
    for command in ("dropUser", "updateUser", "createUser", "grantRolesToUser", "revokeRolesFromUser"):
        assert refused_code(op_msg({command: "dds_service", "$db": "admin"})) == 13, command
        assert refused_code(op_msg({command: "rwuser", "$db": "admin"})) is None, command
    assert refused_code(op_msg({"usersInfo": 1, "showCredentials": True, "$db": "admin"})) == 13
    assert refused_code(op_msg({"usersInfo": 1, "showCredentials": False, "$db": "admin"})) is None
    assert refused_code(op_msg({"dropAllUsersFromDatabase": 1, "$db": "admin"})) == 13
    assert refused_code(op_msg({"dropAllUsersFromDatabase": 1, "$db": "app"})) is None
    assert refused_code(op_msg({"dropDatabase": 1, "$db": "admin"})) == 13


@pytest.mark.parametrize(
    "doc",
    [
        {"find": "system.users", "$db": "admin"},
        {"find": "system.users", "$db": "app"},
        {"aggregate": "system.users", "pipeline": [], "cursor": {}, "$db": "admin"},
        {"count": "system.users", "$db": "admin"},
        {"delete": "system.users", "deletes": [], "$db": "admin"},
        {"insert": "system.users", "documents": [], "$db": "admin"},
        {"drop": "system.users", "$db": "admin"},
        {"renameCollection": "admin.system.users", "to": "admin.x", "$db": "admin"},
        {"renameCollection": "admin.x", "to": "admin.system.users", "$db": "admin"},
        {"getMore": bson.Int64(1), "collection": "system.users", "$db": "admin"},
        {"explain": {"find": "system.users"}, "$db": "admin"},
        {"aggregate": "c", "pipeline": [{"$lookup": {"from": "system.users", "as": "u"}}], "$db": "admin"},
        {"aggregate": "c", "pipeline": [{"$unionWith": "system.users"}], "$db": "admin"},
        {"find": "system.users\x00x", "$db": "admin"},
        {"create": "v", "viewOn": "system.users", "pipeline": [], "$db": "admin"},
    ],
)
def test_guard_refuses_system_users(doc: dict[str, Any]) -> None:
    assert refused_code(op_msg(doc)) == 13


def test_guard_allows_ordinary_commands() -> None:
    assert refused_code(op_msg({"find": "users", "filter": {"name": "system.users"}, "$db": "admin"})) is None
    assert refused_code(op_msg({"aggregate": "c", "pipeline": [{"$match": {"x": 1}}], "$db": "app"})) is None
    assert refused_code(op_msg({"insert": "c", "$db": "app"}, sequences=(("documents", [{}]),))) is None


def test_guard_refuses_repeated_fields_the_engine_would_read_differently() -> None:
    # The engine takes the last of repeated keys: {find: "c", find: "system.users"} reads system.users.
    doc = raw_doc(string_element("find", "c"), string_element("find", "system.users"), string_element("$db", "admin"))
    assert refused_code(op_msg_raw(doc)) == ErrorCode.BadValue
    doc = raw_doc(string_element("find", "c"), string_element("$db", "app"), string_element("$db", "admin"))
    assert refused_code(op_msg_raw(doc)) == ErrorCode.BadValue
    inner = raw_doc(string_element("find", "c"), string_element("find", "system.users"))
    explain = raw_doc(b"\x03explain\x00" + inner, string_element("$db", "admin"))
    assert refused_code(op_msg_raw(explain)) == ErrorCode.Unauthorized
    shadowing = op_msg({"insert": "c", "$db": "d"}, sequences=(("insert", [{}]),))
    assert refused_code(shadowing) == ErrorCode.BadValue


def test_guard_before_authentication() -> None:
    anonymous = Identity()
    for ok in ("hello", "isMaster", "ping", "buildInfo", "saslContinue", "endSessions"):
        assert refused_code(op_msg({ok: 1, "$db": "admin"}), anonymous) is None, ok
    assert refused_code(sasl_start("rwuser"), anonymous) is None
    for denied in ("find", "listDatabases", "replSetGetStatus", "usersInfo"):
        assert refused_code(op_msg({denied: 1, "$db": "admin"}), anonymous) == 13, denied


def test_sasl_start_and_speculative_attempts() -> None:
    attempt = GUARD.sasl_start(wire.parse_request(sasl_start("rwuser", "SCRAM-SHA-1", db="app")))
    assert (attempt.user, attempt.db, attempt.mechanism) == ("rwuser", "app", "SCRAM-SHA-1")
    with pytest.raises(Refusal) as refused:
        GUARD.sasl_start(wire.parse_request(sasl_start("dds_service")))
    assert refused.value.code == 18 and refused.value.subject == "dds_service"
    with pytest.raises(Refusal):
        GUARD.sasl_start(wire.parse_request(sasl_start("rwuser", mechanism="PLAIN")))
    spec = {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bson.Binary(b"n,,n=rwuser,r=x"), "db": "admin"}
    maybe, refusal = GUARD.speculative(wire.parse_request(op_query({"isMaster": 1, "speculativeAuthenticate": spec})))
    assert maybe is not None and maybe.user == "rwuser" and maybe.speculative and refusal is None
    spec["payload"] = bson.Binary(b"n,,n=dds_service,r=x")
    maybe, refusal = GUARD.speculative(wire.parse_request(op_query({"isMaster": 1, "speculativeAuthenticate": spec})))
    assert maybe is None and refusal is not None and refusal.subject == "dds_service"


def test_identity_learns_from_engine_replies_only() -> None:
    identity = Identity()
    attempt = GUARD.sasl_start(wire.parse_request(sasl_start("rwuser")))
    assert identity.observe("saslStart", attempt, {"conversationId": 1, "done": False, "ok": 1.0}) is None
    assert not identity.authenticated
    assert identity.observe("saslContinue", None, {"done": False, "ok": 1.0}) is None
    assert identity.observe("saslContinue", None, {"done": True, "ok": 1.0}) is AuthOutcome.SUCCEEDED
    assert identity.principal == "rwuser@admin"
    assert identity.observe("logout", None, {"ok": 1.0}) is None
    assert not identity.authenticated and identity.principal is None
    assert identity.observe("saslStart", attempt, {"ok": 0.0, "code": 18}) is AuthOutcome.FAILED
    assert identity.observe("saslContinue", None, {"done": True, "ok": 0.0}) is AuthOutcome.FAILED
    assert not identity.authenticated
    # Speculative: the conversation starts inside hello, ends with saslContinue.
    assert identity.observe("isMaster", attempt, {"ok": 1.0, "speculativeAuthenticate": {"done": False}}) is None
    assert identity.observe("saslContinue", None, {"done": True, "ok": 1.0}) is AuthOutcome.SUCCEEDED


def test_users_info_reply_filtered() -> None:
    reply = {"users": [{"user": "dds_service", "db": "admin"}, {"user": "rwuser", "db": "admin"}], "ok": 1.0}
    assert GUARD.filter_users_info(reply) == {"users": [{"user": "rwuser", "db": "admin"}], "ok": 1.0}
    assert GUARD.filter_users_info({"users": [{"user": "rwuser"}], "ok": 1.0}) is None


# --- redaction, logs, config ------------------------------------------------------------------


def test_shape_never_holds_literals() -> None:
    secret = "Sup3r#Secret_pw"
    create = wire.parse_request(
        op_msg({"createUser": "alice", "pwd": secret, "roles": [], "customData": {"k": secret}, "$db": "admin"})
    )
    shape = command_shape(create)
    assert secret not in json.dumps(shape) and "alice" not in json.dumps(shape)
    assert shape == {"createUser": "?", "pwd": "?", "roles": [], "customData": {"k": "?"}}
    find = wire.parse_request(
        op_msg({"find": "c", "filter": {"ssn": "123-45-6789", "age": {"$in": [1, 2, 3]}}, "lsid": {"id": 1}})
    )
    assert command_shape(find) == {"find": "?", "filter": {"ssn": "?", "age": {"$in": ["?"]}}}
    insert = wire.parse_request(op_msg({"insert": "c", "$db": "d"}, sequences=(("documents", [{"pw": secret}] * 3),)))
    assert command_shape(insert) == {"insert": "?", "documents": "<3 documents>"}


def test_rotating_json_lines(tmp_path: Path) -> None:
    log = RotatingJsonLines(tmp_path / "slow.log", max_bytes=200, backups=3)
    for i in range(40):
        log.write({"i": i, "pad": "x" * 30})
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["slow.log", "slow.log.1", "slow.log.2", "slow.log.3"]
    newest = [json.loads(line) for line in (tmp_path / "slow.log").read_text().splitlines()]
    assert newest[-1]["i"] == 39
    assert all(p.stat().st_size <= 200 for p in tmp_path.iterdir())


def config_dict(**overrides: Any) -> dict[str, Any]:
    base = {
        "listen_host": "127.0.0.1",
        "listen_port": 27018,
        "engine_host": "127.0.0.1",
        "engine_port": 27017,
        "advertised_host": "db.example",
        "advertised_port": 8635,
        "repl_set_name": "replica",
        "protected_users": ["dds_service"],
        "log_dir": "/tmp/x",
        "slow_ms": 100,
        "max_connections": 0,
    }
    return {**base, **overrides}


def test_config_round_trip_and_errors(tmp_path: Path) -> None:
    config = config_from_json(config_dict(future_key=1))
    assert config.advertised == "db.example:8635" and config.protected_users == ("dds_service",)
    dump_config(config, tmp_path / "gateway.json")
    assert load_config(tmp_path / "gateway.json") == config
    assert json.loads((tmp_path / "gateway.json").read_text())["future_key"] == 1
    for field, value in (("listen_port", 0), ("slow_ms", -1), ("protected_users", "x"), ("repl_set_name", "")):
        with pytest.raises(ConfigError) as error:
            config_from_json(config_dict(**{field: value}))
        assert error.value.field_name == field


# --- fuzzing ----------------------------------------------------------------------------------

VALID_MESSAGES = [
    op_msg({"find": "c", "filter": {"a": [1, {"b": None}]}, "$db": "d"}),
    op_msg({"insert": "c", "$db": "d"}, flags=3, sequences=(("documents", [{"x": 1.5}, {"y": "z"}]),)),
    op_msg({"hello": 1, "speculativeAuthenticate": {"saslStart": 1, "payload": bson.Binary(b"n,,n=u,r=x")}}),
    sasl_start("rwuser"),
    op_msg({"dropUser": "dds_service", "$db": "admin"}, sequences=(("x", [{}]),)),
    op_query({"isMaster": 1, "client": {"driver": {"name": "x"}}}),
    wire.build_op_reply({"ok": 1.0, "hosts": ["a:1"]}, 1),
]


@contextmanager
def bounded(seconds: float = 5.0) -> Iterator[None]:
    """Fail instead of hanging if a parser ever loops forever (SIGALRM; tests run in the main thread)."""

    def expire(signum: int, frame: Any) -> None:
        raise AssertionError(f"still parsing after {seconds}s: an unbounded loop?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def exercise(message: bytes) -> None:
    """Everything the gateway does with a client message, through the public functions."""
    with bounded():
        _exercise(message)


def _exercise(message: bytes) -> None:
    try:
        request = wire.parse_request(message)
    except ProtocolError:
        pass
    else:
        _ = (request.command, request.db, request.namespace, request.more_to_come)
        for name in list(request.body.spans):
            request.body.get(name)
        for check in (
            lambda: GUARD.check(request, Identity()),
            lambda: GUARD.check(request, logged_in()),
            lambda: GUARD.sasl_start(request),
            lambda: GUARD.speculative(request),
        ):
            try:
                check()
            except Refusal:
                pass
        command_shape(request)
    try:
        reply = wire.parse_reply(message)
        _ = reply.ok
        _ = reply.body.first
    except ProtocolError:
        pass


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    exercise(data)
    with bounded():
        try:
            Fields(data)
        except ProtocolError:
            pass


@FUZZ
@given(
    st.sampled_from(VALID_MESSAGES),
    st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=6),
    st.integers(min_value=0, max_value=400),
)
def test_fuzz_mutated_messages(message: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(message)
    for pos, value in flips:
        data[pos % len(data)] = value
    for candidate in (bytes(data), bytes(data[: max(0, len(data) - cut)])):
        try:
            exercise(candidate)
        except ProtocolError:
            pass


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=20), st.sampled_from(VALID_MESSAGES))
def test_fuzz_framing_stream_terminates(chunks: list[bytes], valid: bytes) -> None:
    """The framing loop of the connection, over arbitrary chunking: it ends, or raises ProtocolError."""
    buffer = bytearray()
    seen = 0
    stream = [valid[:7], valid[7:], *chunks]
    with bounded():
        for chunk in stream:
            buffer += chunk
            try:
                while (n := wire.frame_length(buffer)) is not None and len(buffer) >= n:
                    message = bytes(buffer[:n])
                    del buffer[:n]
                    seen += 1
                    _exercise(message)
            except ProtocolError:
                return
    assert seen >= 1


# --- a live gateway in front of fake engines ----------------------------------------------------


async def read_message(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(16)
    (length,) = struct.unpack_from("<i", header)
    return header + await reader.readexactly(length - 16)


def fake_engine_handler(
    answer: Callable[[wire.Request], dict[str, Any] | None],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    """An 'engine' that answers each request like FerretDB does: always, even to moreToCome."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = wire.parse_request(await read_message(reader))
                doc = answer(request)
                if doc is None:
                    continue  # a silent engine
                writer.write(wire.reply_for(request, doc))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


@asynccontextmanager
async def running_gateway(
    tmp_path: Path, answer: Callable[[wire.Request], dict[str, Any] | None], **overrides: Any
) -> AsyncIterator[tuple[Gateway, int]]:
    engine = await asyncio.start_server(fake_engine_handler(answer), "127.0.0.1", 0)
    engine_port = engine.sockets[0].getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = config_dict(
        listen_port=port, engine_port=engine_port, advertised_port=port, log_dir=str(tmp_path / "logs"), **overrides
    )
    gateway = Gateway(config_from_json(settings))
    await gateway.start()
    try:
        yield gateway, port
    finally:
        await gateway.stop()
        engine.close()
        await engine.wait_closed()


def echo_ok(request: wire.Request) -> dict[str, Any]:
    if request.command in ("hello", "isMaster"):
        return {"isWritablePrimary": True, "hosts": ["127.0.0.1:1"], "setName": "replica", "connectionId": 42, "ok": 1}
    if request.command == "saslStart":
        return {"conversationId": 1, "done": True, "payload": b"", "ok": 1.0}
    return {"echo": request.command, "id": request.header.request_id, "ok": 1.0}


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the gateway closes the connection (EOF or reset) within `seconds`."""
    try:
        data = await asyncio.wait_for(reader.read(1 << 16), seconds)
    except ConnectionError:
        return True
    return data == b""


GARBAGE = [
    b"\xff" * 64,  # negative length
    struct.pack("<iiii", 16, 1, 0, 2013),  # OP_MSG with no body
    struct.pack("<i", 48_000_001) + b"\x00" * 12,  # oversized: refused from the header alone
    struct.pack("<iiii", 26, 1, 0, 2012) + b"\x00" * 10,  # OP_COMPRESSED
    struct.pack("<iiii", 26, 1, 0, 2010) + b"\x00" * 10,  # unknown opcode
    op_msg({"ping": 1})[:-1] + b"\x01",  # body not NUL-terminated
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_gateway_closes_on_garbage(tmp_path: Path, garbage: bytes) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, echo_ok) as (gateway, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(garbage)
            await writer.drain()
            assert await closed_within(reader, 3)
            writer.close()
            # The gateway survives and serves the next client.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"ping": 1, "$db": "admin"}, request_id=5))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 5 and doc["echo"] == "ping"
            writer.close()
            assert gateway.stats.protocol_errors == 1
        events = [json.loads(x) for x in (tmp_path / "logs" / "gateway.log").read_text().splitlines()]
        assert any(e["event"] == "protocol_error" for e in events)

    asyncio.run(scenario())


def test_gateway_closes_a_stalled_partial_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, echo_ok, partial_message_timeout_s=0.3) as (_, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"ping": 1, "$db": "admin"})[:10])
            await writer.drain()
            started = time.monotonic()
            assert await closed_within(reader, 3)
            assert time.monotonic() - started < 2
            writer.close()

    asyncio.run(scenario())


def test_gateway_drops_replies_to_more_to_come(tmp_path: Path) -> None:
    """w:0 writes: the engine answers anyway, the client must only ever see replies it asked for."""

    async def scenario() -> None:
        async with running_gateway(tmp_path, echo_ok) as (_, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"saslStart": 1, "$db": "admin"}, request_id=1))  # not authenticated yet: refused
            _, doc = decode_reply(await read_message(reader))
            assert doc["code"] == 18
            identity_message = op_msg(
                {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bson.Binary(b"n,,n=u,r=x"), "$db": "admin"}
            )
            writer.write(identity_message)
            await read_message(reader)  # the fake engine says done: the gateway now counts us as `u`
            # Three w:0 inserts and a ping, all written at once: pipelined, the worst case for ordering.
            burst = b"".join(
                op_msg({"insert": "c", "$db": "d"}, flags=wire.MORE_TO_COME, request_id=100 + i) for i in range(3)
            )
            writer.write(burst + op_msg({"ping": 1, "$db": "admin"}, request_id=200))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert (response_to, doc["echo"]) == (200, "ping")
            writer.write(op_msg({"hello": 1, "$db": "admin"}, request_id=201))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 201 and doc["hosts"] == [f"db.example:{port}"] and doc["connectionId"] != 42
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.2)  # nothing else arrives
            writer.close()

    asyncio.run(scenario())


def test_gateway_max_connections_and_stats(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, echo_ok, max_connections=2) as (gateway, port):
            clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            assert await closed_within(clients[2][0], 3)
            for reader, writer in clients[:2]:
                writer.write(op_msg({"ping": 1, "$db": "admin"}, request_id=3))
                assert decode_reply(await asyncio.wait_for(read_message(reader), 3))[0] == 3
            assert gateway.stats.current == 2 and gateway.stats.refused == 1
            await asyncio.sleep(1.2)
            snapshot = json.loads((tmp_path / "logs" / "stats.json").read_text())
            assert snapshot["connections"]["current"] == 2
            assert snapshot["connections"]["per_ip"] == {"127.0.0.1": 2}
            assert snapshot["connections"]["refused"] == 1
            for _, writer in clients:
                writer.close()

    asyncio.run(scenario())


def test_gateway_closes_clients_when_the_engine_is_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        with socket.socket() as dead:
            dead.bind(("127.0.0.1", 0))  # bound, never listening, held: refused, and nobody else's port
            dead_port = dead.getsockname()[1]
            async with running_gateway(tmp_path, echo_ok) as (gateway, port):
                gateway.config = dataclasses.replace(gateway.config, engine_port=dead_port)
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(op_msg({"ping": 1, "$db": "admin"}))
                assert await closed_within(reader, 3)
                writer.close()
                await asyncio.sleep(0.05)
                assert gateway.stats.current == 0
        events = [json.loads(x) for x in (tmp_path / "logs" / "gateway.log").read_text().splitlines()]
        assert any(e["event"] == "engine_unreachable" for e in events)

    asyncio.run(scenario())


def test_gateway_lists_in_flight_operations(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, lambda r: None if r.command == "find" else echo_ok(r)) as (gateway, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"ping": 1, "$db": "admin"}, request_id=1))
            await read_message(reader)
            gateway.guard.check = lambda request, identity: None  # type: ignore[method-assign]
            writer.write(op_msg({"find": "orders", "filter": {"secret": 1}, "$db": "shop"}, request_id=2))
            await asyncio.sleep(1.2)
            snapshot = json.loads((tmp_path / "logs" / "stats.json").read_text())
            (op,) = snapshot["inprog"]
            assert op["command"] == "find" and op["namespace"] == "shop.orders"
            assert op["client"].startswith("127.0.0.1:") and op["running_ms"] > 0
            assert "secret" not in json.dumps(snapshot)
            writer.close()

    asyncio.run(scenario())
