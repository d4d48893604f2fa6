"""What the engine cannot take, refused by the gateway (dds.gateway.screen), and what the gateway
answers when the engine closes its connection mid-request or a session is killed.

The scanner is tested on hand-made BSON (bson.encode cannot write several of these types);
the connection behaviour on a live gateway in front of fake engines (the harness of
test_gateway_wire.py): the engine never sees a refused request, a dropped engine connection
still gets the client an error reply, and a killed operation ends with `Interrupted`.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import struct
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from hypothesis import given
from hypothesis import strategies as st

from dds.gateway import wire
from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.screen import UNSUPPORTED_TYPES, scan, screen
from tests.unit.test_gateway_wire import (
    FUZZ,
    bounded,
    closed_within,
    decode_reply,
    echo_ok,
    op_msg,
    raw_doc,
    read_message,
    running_gateway,
)


def element(kind: int, name: str, value: bytes) -> bytes:
    return bytes([kind]) + name.encode() + b"\x00" + value


def cstring_value(text: bytes) -> bytes:
    return struct.pack("<i", len(text) + 1) + text + b"\x00"


def int32(name: str, value: int) -> bytes:
    return element(0x10, name, struct.pack("<i", value))


def checked(document: bytes, root: str = "") -> Refusal | None:
    with bounded():
        return scan(document, 0, len(document), root)


UNSUPPORTED_VALUES = {
    0x06: b"",  # undefined
    0x0C: cstring_value(b"db.coll") + b"\x01" * 12,  # DBPointer
    0x0D: cstring_value(b"function () { return 1 }"),  # JavaScript code
    0x0E: cstring_value(b"sym"),  # Symbol
    0x0F: struct.pack("<i", 4 + 8 + 5) + cstring_value(b"f()") + bson.encode({}),  # code with scope
    0x7F: b"",  # MaxKey
    0xFF: b"",  # MinKey
}


def test_every_supported_type_passes() -> None:
    doc = {
        "_id": ObjectId(),
        "s": "text ☃",
        "i": 1,
        "l": Int64(2**40),
        "d": 1.5,
        "inf": math.inf,
        "ninf": -math.inf,
        "b": True,
        "f": False,
        "n": None,
        "t": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        "ts": Timestamp(1, 2),
        "bin": Binary(b"\x00\x01", 4),
        "re": Regex("^a", "i"),
        "a": [1, "x", {"y": [[], {}]}, [2, 3]],
        "nested": {"a": {"b": {"c": [None]}}},
        "empty": {},
    }
    assert checked(bson.encode(doc)) is None
    long_array = {"a": list(range(2500))}  # keys beyond the precomputed ones
    assert checked(bson.encode(long_array)) is None


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_TYPES))
def test_unsupported_types_are_refused_with_their_path(kind: int) -> None:
    value = UNSUPPORTED_VALUES[kind]
    in_array = raw_doc(int32("0", 1), element(kind, "1", value))
    for document, path in (
        (raw_doc(int32("_id", 1), element(kind, "price", value)), "price"),
        (raw_doc(element(0x03, "filter", raw_doc(element(0x04, "$in", in_array)))), "filter.$in.1"),
    ):
        refusal = checked(document, "documents.3")
        assert refusal is not None and refusal.code == ErrorCode.NotImplemented
        assert refusal.message.startswith(UNSUPPORTED_TYPES[kind] + " values are not supported")
        assert refusal.message.endswith(f"(field 'documents.3.{path}')")


def test_decimal128_passes_and_a_refusal_names_the_type_and_field() -> None:
    assert checked(bson.encode({"insert": "c", "documents": [{"p": Decimal128("9.99")}]})) is None  # patch 0018
    refusal = checked(bson.encode({"insert": "c", "documents": [{"x": 1}, {"p": {"q": MaxKey()}}]}))
    assert refusal is not None and refusal.code == ErrorCode.NotImplemented == 238
    assert refusal.message == (
        "MaxKey values are not supported by this instance's database engine (field 'documents.1.p.q')"
    )
    for value in (Code("return 1"), Code("return x", {"x": 1}), MinKey(), MaxKey()):
        refusal = checked(bson.encode({"find": "c", "filter": {"a": {"$gt": value}}}))
        assert refusal is not None and refusal.code == 238 and "'filter.a.$gt'" in refusal.message


def test_nan_is_refused_but_infinity_is_not() -> None:
    refusal = checked(bson.encode({"u": {"$set": {"x": math.nan}}}))
    assert refusal is not None and refusal.code == ErrorCode.NotImplemented and "NaN" in refusal.message
    negative_nan = struct.pack("<d", -math.nan)
    assert checked(raw_doc(element(0x01, "x", negative_nan))) is not None
    signalling_nan = b"\x01\x00\x00\x00\x00\x00\xf0\x7f"
    assert checked(raw_doc(element(0x01, "x", signalling_nan))) is not None
    assert checked(bson.encode({"x": math.inf, "y": -0.0, "z": 1e308})) is None


def test_repeated_field_names_at_any_depth_are_refused() -> None:
    duplicate = raw_doc(int32("a", 1), int32("a", -1))
    refusal = checked(raw_doc(element(0x02, "find", cstring_value(b"c")), element(0x03, "sort", duplicate)))
    assert refusal is not None and refusal.code == ErrorCode.BadValue
    assert "'a'" in refusal.message and "'sort'" in refusal.message
    # The same name in sibling documents or at different depths is fine.
    fine = raw_doc(
        element(0x03, "x", raw_doc(int32("a", 1))), element(0x03, "y", raw_doc(int32("a", 1))), int32("a", 2)
    )
    assert checked(fine) is None
    top = checked(raw_doc(int32("a", 1), int32("a", 2)))
    assert top is not None and "the command" in top.message


def test_arrays_must_be_keyed_0_1_2() -> None:
    for keys in (["1"], ["0", "2"], ["0", "0"], ["a"], ["00"]):
        array = raw_doc(*(int32(k, 1) for k in keys))
        refusal = checked(raw_doc(element(0x04, "tags", array)))
        assert refusal is not None and refusal.code == ErrorCode.BadValue and "'tags'" in refusal.message, keys
    assert checked(raw_doc(element(0x04, "tags", raw_doc(int32("0", 1), int32("1", 2))))) is None


MALFORMED = [
    raw_doc(element(0x08, "b", b"\x02")),  # a boolean byte other than 0/1
    raw_doc(element(0x20, "x", b"")),  # unknown type
    raw_doc(element(0x03, "d", struct.pack("<i", 99) + b"\x00")),  # embedded size past the end
    raw_doc(element(0x03, "d", struct.pack("<i", 3) + b"\x00")),  # embedded size below 5
    raw_doc(element(0x03, "d", raw_doc(int32("a", 1))[:-1] + b"\x01")),  # not NUL-terminated
    raw_doc(element(0x02, "s", struct.pack("<i", 0) + b"\x00")),  # empty string length
    raw_doc(element(0x02, "s", struct.pack("<i", 50) + b"ab\x00")),  # string past the end
    raw_doc(element(0x02, "s", struct.pack("<i", 2) + b"abc\x00")),  # string without its NUL
    raw_doc(element(0x05, "b", struct.pack("<i", -1) + b"\x00")),  # negative binary length
    raw_doc(element(0x05, "b", struct.pack("<i", 40) + b"\x00")),  # binary past the end
    raw_doc(element(0x0B, "r", b"abc")),  # regex without its terminators
    raw_doc(element(0x10, "i", b"\x01\x00")),  # int32 cut short
    raw_doc(element(0x01, "d", b"\x00" * 3)),  # double cut short
    raw_doc(b"\x10abc"),  # field name without its NUL
]


@pytest.mark.parametrize("document", MALFORMED)
def test_malformed_nested_bson_is_invalid_bson_not_an_exception(document: bytes) -> None:
    refusal = checked(raw_doc(element(0x03, "outer", document)))
    assert refusal is not None and refusal.code == ErrorCode.InvalidBSON == 22, refusal


def test_outer_bounds_are_checked() -> None:
    doc = bson.encode({"a": 1})
    assert scan(doc, 0, len(doc) - 1) is not None  # longer than its limit
    assert scan(doc, 0, 4) is not None
    assert scan(doc + b"junk", 0, len(doc) + 4) is None  # what follows the document is not its business


def nested(leaf: bytes, depth: int) -> bytes:
    """`leaf` inside `depth` documents {x: {x: ...}}, built in one pass."""
    sizes = [len(leaf)]
    for _ in range(depth):
        sizes.append(sizes[-1] + 4 + 3 + 1)  # length, b"\x03x\x00", the terminating NUL
    heads = [struct.pack("<i", size) + b"\x03x\x00" for size in reversed(sizes[1:])]
    return b"".join(heads) + leaf + b"\x00" * depth


def test_deep_nesting_is_walked_without_recursion() -> None:
    assert checked(nested(raw_doc(int32("leaf", 1)), 20_000)) is None
    refusal = checked(nested(raw_doc(element(0x7F, "leaf", b"")), 3000))
    assert refusal is not None and refusal.code == 238 and refusal.message.count("x.") == 3000


def sequence_message(identifier: str, documents: list[bytes]) -> bytes:
    payload = identifier.encode() + b"\x00" + b"".join(documents)
    body = struct.pack("<I", 0) + b"\x00" + bson.encode({"insert": "c", "$db": "d"})
    body += b"\x01" + struct.pack("<i", len(payload) + 4) + payload
    return struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body


def test_screen_checks_the_command_and_every_sequence_document() -> None:
    good = [bson.encode({"_id": i}) for i in range(3)]
    screen(wire.parse_request(sequence_message("documents", good)))
    bad = [*good, bson.encode({"_id": 3, "price": MinKey()})]
    with pytest.raises(Refusal) as refused:
        screen(wire.parse_request(sequence_message("documents", bad)))
    assert refused.value.code == 238 and "'documents.3.price'" in refused.value.message
    with pytest.raises(Refusal) as refused:
        screen(wire.parse_request(sequence_message("documents", [*good, b"\x05\x00\x00"])))
    assert refused.value.code == ErrorCode.InvalidBSON
    with pytest.raises(Refusal) as refused:
        screen(wire.parse_request(sequence_message("documents", [struct.pack("<i", 90) + b"\x00"])))
    assert refused.value.code == ErrorCode.InvalidBSON
    with pytest.raises(Refusal) as refused:
        screen(wire.parse_request(op_msg({"find": "c", "filter": {"a": MinKey()}, "$db": "d"})))
    assert refused.value.code == 238 and "'filter.a'" in refused.value.message


@FUZZ
@given(
    st.sampled_from(
        [
            bson.encode({"a": [1, {"b": "x", "c": [1.5, None, True]}], "d": {"e": Regex("x")}}),
            bson.encode({"u": {"$set": {"x": Binary(b"12345")}}, "t": Timestamp(1, 1), "l": Int64(5)}),
            bson.encode({"n": {"m": {"o": {"p": ["q", ObjectId()]}}}}),
        ]
    ),
    st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=6),
    st.integers(min_value=0, max_value=60),
)
def test_fuzz_scan_never_raises(document: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(document)
    for pos, value in flips:
        data[pos % len(data)] = value
    for candidate in (bytes(data), bytes(data[: max(0, len(data) - cut)])):
        result = checked(candidate)
        assert result is None or isinstance(result, Refusal)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    result = checked(data)
    assert result is None or isinstance(result, Refusal)


# --- a live gateway in front of fake engines ----------------------------------------------------


def test_refused_request_never_reaches_the_engine_and_the_connection_stays(tmp_path: Path) -> None:
    seen: list[str] = []

    def engine(request: wire.Request) -> dict[str, Any]:
        seen.append(request.command)
        return echo_ok(request)

    async def scenario() -> None:
        async with running_gateway(tmp_path, engine) as (gateway, port):
            gateway.guard.check = lambda request, identity: None  # type: ignore[method-assign]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"insert": "c", "documents": [{"p": MinKey()}], "$db": "d"}, request_id=11))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 11 and doc["ok"] == 0 and doc["code"] == 238 and doc["codeName"] == "NotImplemented"
            # w:0: no reply at all, and still no closed connection.
            writer.write(op_msg({"insert": "c", "documents": [{"p": MaxKey()}], "$db": "d"}, flags=2, request_id=12))
            writer.write(op_msg({"ping": 1, "$db": "admin"}, request_id=13))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 13 and doc["echo"] == "ping"
            assert seen == ["ping"]
            writer.close()
        errors = [json.loads(x) for x in (tmp_path / "logs" / "error.log").read_text().splitlines()]
        assert [e["code"] for e in errors] == [238, 238] and all(e["source"] == "gateway" for e in errors)

    asyncio.run(scenario())


def crashing(request: wire.Request) -> dict[str, Any] | None:
    """An engine that drops the connection on `ping` with comment 'crash' (as FerretDB does on a panic)."""
    if request.command == "ping" and request.body.get("comment") == "crash":
        raise ConnectionError("the fake engine drops this connection")
    return echo_ok(request)


def test_engine_closing_mid_request_gets_an_error_reply_and_a_new_engine_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, crashing) as (gateway, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(op_msg({"ping": 1, "$db": "admin"}, request_id=1))
            assert decode_reply(await asyncio.wait_for(read_message(reader), 3))[1]["echo"] == "ping"
            # A crash, and a request pipelined behind it: one error reply, then the next answer.
            writer.write(op_msg({"ping": 1, "comment": "crash", "$db": "admin"}, request_id=2))
            writer.write(op_msg({"buildInfo": 1, "$db": "admin"}, request_id=3))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 2 and doc["ok"] == 0 and doc["code"] == ErrorCode.InternalError == 1
            assert "closed its connection while running ping" in doc["errmsg"]
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 3 and doc["echo"] == "buildInfo"
            (session,) = gateway.stats.sessions()
            assert session["active"] is False and gateway.stats.current == 1
            writer.close()
        events = [json.loads(x)["event"] for x in (tmp_path / "logs" / "gateway.log").read_text().splitlines()]
        assert "engine_closed" in events and "engine_reconnect" in events

    asyncio.run(scenario())


def test_engine_closing_on_an_authenticated_connection_answers_then_closes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_gateway(tmp_path, crashing) as (gateway, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            login = {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": Binary(b"n,,n=u,r=x"), "$db": "admin"}
            writer.write(op_msg(login, request_id=1))
            await read_message(reader)  # the fake engine says done: authenticated as `u`
            writer.write(op_msg({"ping": 1, "comment": "crash", "$db": "admin"}, request_id=2))
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 2 and doc["code"] == 1
            # Its login lived in the lost engine connection: the client connection goes, after the reply.
            assert await closed_within(reader, 3)
            writer.close()
            await asyncio.sleep(0.05)
            assert gateway.stats.current == 0 and not gateway.stats.operations

    asyncio.run(scenario())


def test_killed_session_gets_interrupted_before_its_connection_closes(tmp_path: Path) -> None:
    async def scenario() -> None:
        silent_on_find = lambda r: None if r.command == "find" else echo_ok(r)  # noqa: E731
        async with running_gateway(tmp_path, silent_on_find) as (gateway, port):
            gateway.guard.check = lambda request, identity: None  # type: ignore[method-assign]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
            for r, w in ((reader, writer), (idle_reader, idle_writer)):
                w.write(op_msg({"ping": 1, "$db": "admin"}, request_id=1))
                await asyncio.wait_for(read_message(r), 3)
            writer.write(op_msg({"find": "orders", "$db": "shop"}, request_id=21))
            await asyncio.sleep(0.2)
            running = [s for s in gateway.stats.sessions() if s["active"]]
            assert len(running) == 1
            idle = [s["id"] for s in gateway.stats.sessions() if not s["active"]]
            assert gateway.control({"op": "kill", "ids": [running[0]["id"], *idle]})["killed"] == sorted(
                [running[0]["id"], *idle]
            )
            response_to, doc = decode_reply(await asyncio.wait_for(read_message(reader), 3))
            assert response_to == 21 and doc == {
                "ok": 0.0,
                "errmsg": "operation was interrupted",
                "code": 11601,
                "codeName": "Interrupted",
            }
            assert await closed_within(reader, 3)
            assert await closed_within(idle_reader, 3)  # nothing was running there: just closed
            writer.close()
            idle_writer.close()
            await asyncio.sleep(0.05)
            assert gateway.stats.current == 0 and not gateway.stats.operations
        errors = [json.loads(x) for x in (tmp_path / "logs" / "error.log").read_text().splitlines()]
        assert [(e["command"], e["code"], e["source"]) for e in errors] == [("find", 11601, "gateway")]

    asyncio.run(scenario())
