"""MongoDB wire messages: framing, parsing of requests and replies, building replies. No I/O.

Only what the gateway acts on is looked at: the header, OP_MSG flags and sections, the
kind-0 command document's top-level fields (through `Fields`, which skips nested values
unread). Everything that is not exactly well-formed raises ProtocolError, and the caller
closes the connection: a wire-level peer that lies about lengths is not worth a reply.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

import bson

from dds.gateway.errors import ErrorCode, ProtocolError
from dds.gateway.fields import Fields

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

HEADER = struct.Struct("<iiii")
HEADER_SIZE = 16
MAX_MESSAGE_SIZE = 48_000_000  # what the engine advertises as maxMessageSizeBytes
_INT32 = struct.Struct("<i")
_DOUBLE = struct.Struct("<d")
_UINT32 = struct.Struct("<I")
_OP_QUERY_TAIL = struct.Struct("<ii")  # numberToSkip, numberToReturn
_OP_REPLY_HEAD = struct.Struct("<iqii")  # responseFlags, cursorID, startingFrom, numberReturned

CHECKSUM_PRESENT = 1 << 0
MORE_TO_COME = 1 << 1
EXHAUST_ALLOWED = 1 << 16
_REQUIRED_BITS = 0xFFFF  # bits 0-15 must be understood by the receiver (OP_MSG spec)
_KNOWN_REQUIRED = CHECKSUM_PRESENT | MORE_TO_COME

# OP_QUERY survives only for the handshake and authentication (as in MongoDB 6+).
LEGACY_COMMANDS = frozenset({"hello", "isMaster", "ismaster", "saslStart", "saslContinue"})

# Commands whose string value is something else than a collection of `$db`.
_VALUE_IS_NOT_A_COLLECTION = frozenset(
    {
        "createUser",
        "updateUser",
        "dropUser",
        "grantRolesToUser",
        "revokeRolesFromUser",
        "usersInfo",
        "getLog",
        "getParameter",
        "hello",
        "isMaster",
        "ismaster",
    }
)
_VALUE_IS_A_NAMESPACE = frozenset({"renameCollection", "dataSize"})  # `db.collection` already

_request_ids = itertools.count(1)


def next_request_id() -> int:
    """Request ids for messages the gateway writes itself (wrapping within int32)."""
    return next(_request_ids) % 0x7FFFFFFF


class Header(NamedTuple):
    """The 16-byte standard message header."""

    length: int
    request_id: int
    response_to: int
    op_code: int


def frame_length(buffer: bytes | bytearray, max_size: int = MAX_MESSAGE_SIZE) -> int | None:
    """Length of the message at the front of `buffer`, or None until 4 bytes have arrived.

    Checked before the rest is buffered, so an oversized claim costs nothing but the close.
    """
    if len(buffer) < 4:
        return None
    length: int
    (length,) = _INT32.unpack_from(buffer, 0)
    if length < HEADER_SIZE:
        raise ProtocolError(f"message length {length} is shorter than a header")
    if length > max_size:
        raise ProtocolError(f"message length {length} exceeds {max_size}")
    return length


def parse_header(data: bytes) -> Header:
    """Header of one complete message; its length must be the length of `data`."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError("message shorter than a header")
    header = Header(*HEADER.unpack_from(data, 0))
    if header.length != len(data):
        raise ProtocolError(f"header says {header.length} bytes, message has {len(data)}")
    return header


class Sequence(NamedTuple):
    """An OP_MSG kind-1 section: documents at data[start:end], left unparsed."""

    identifier: str
    start: int
    end: int


class Request:
    """One client request, parsed just enough to route, guard and log it."""

    __slots__ = ("data", "header", "flags", "body", "sequences", "legacy_collection", "_db", "_namespace")

    def __init__(
        self,
        data: bytes,
        header: Header,
        flags: int,
        body: Fields,
        sequences: tuple[Sequence, ...] = (),
        legacy_collection: str | None = None,
    ) -> None:
        self.data = data
        self.header = header
        self.flags = flags
        self.body = body
        self.sequences = sequences
        self.legacy_collection = legacy_collection  # OP_QUERY's fullCollectionName
        self._db: str | None | bool = False  # False: not decoded yet
        self._namespace: str | None | bool = False

    @property
    def legacy(self) -> bool:
        """True for OP_QUERY (answered with OP_REPLY)."""
        return self.header.op_code == OP_QUERY

    @property
    def command(self) -> str:
        """The command name: the first key of the command document ('' when empty)."""
        return self.body.first or ""

    @property
    def db(self) -> str | None:
        """`$db`, or the database part of OP_QUERY's `db.$cmd` (decoded once)."""
        if self._db is False:
            if self.legacy_collection is not None:
                self._db = self.legacy_collection.split(".", 1)[0]
            else:
                self._db = self.body.get_str("$db")
        assert self._db is not True
        return self._db

    @property
    def namespace(self) -> str | None:
        """`db.collection` when the command's value names a collection (getMore: `collection`), else `db`."""
        if self._namespace is False:
            command = self.command
            collection = None
            if command == "getMore":
                collection = self.body.get_str("collection")
            elif command not in _VALUE_IS_NOT_A_COLLECTION:
                collection = self.body.get_str(command)
            db = self.db
            if command in _VALUE_IS_A_NAMESPACE:
                self._namespace = collection
            elif collection is None or db is None:
                self._namespace = db if collection is None else collection
            else:
                self._namespace = f"{db}.{collection}"
        assert self._namespace is not True
        return self._namespace

    @property
    def more_to_come(self) -> bool:
        """The client expects no reply (w:0 writes)."""
        return bool(self.flags & MORE_TO_COME)

    @property
    def exhaust_allowed(self) -> bool:
        return bool(self.flags & EXHAUST_ALLOWED)


def parse_request(data: bytes) -> Request:
    """A complete client message. OP_COMPRESSED and everything else but OP_MSG/OP_QUERY are refused."""
    header = parse_header(data)
    if header.op_code == OP_MSG:
        flags, body, sequences = _parse_op_msg(data)
        return Request(data, header, flags, body, sequences)
    if header.op_code == OP_QUERY:
        return _parse_op_query(data, header)
    raise ProtocolError(f"opcode {header.op_code} is not supported")


def _parse_op_msg(data: bytes) -> tuple[int, Fields, tuple[Sequence, ...]]:
    if len(data) < HEADER_SIZE + 4 + 1 + 5:
        raise ProtocolError("OP_MSG too short")
    (flags,) = _UINT32.unpack_from(data, HEADER_SIZE)
    if flags & _REQUIRED_BITS & ~_KNOWN_REQUIRED:
        raise ProtocolError(f"OP_MSG has unknown required flag bits 0x{flags:08x}")
    end = len(data) - (4 if flags & CHECKSUM_PRESENT else 0)
    pos = HEADER_SIZE + 4
    body: Fields | None = None
    sequences: list[Sequence] = []
    while pos < end:  # every section consumes at least 6 bytes
        kind = data[pos]
        pos += 1
        if kind == 0:
            if body is not None:
                raise ProtocolError("OP_MSG has two kind-0 sections")
            body = Fields(data, pos, end)
            pos = body.end
        elif kind == 1:
            if pos + 4 > end:
                raise ProtocolError("kind-1 section size runs past the message")
            (size,) = _INT32.unpack_from(data, pos)
            stop = pos + size
            if size < 5 or stop > end:
                raise ProtocolError(f"kind-1 section size {size} outside the message")
            name_end = data.find(b"\x00", pos + 4, stop)
            if name_end < 0:
                raise ProtocolError("kind-1 identifier is not terminated")
            try:
                identifier = data[pos + 4 : name_end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError("kind-1 identifier is not UTF-8") from exc
            sequences.append(Sequence(identifier, name_end + 1, stop))
            pos = stop
        else:
            raise ProtocolError(f"OP_MSG section kind {kind} is not supported")
    if body is None:
        raise ProtocolError("OP_MSG without a kind-0 section")
    if pos != end:
        raise ProtocolError("OP_MSG sections do not fill the message")
    return flags, body, tuple(sequences)


def _parse_op_query(data: bytes, header: Header) -> Request:
    pos = HEADER_SIZE + 4
    name_end = data.find(b"\x00", pos)
    if name_end < 0:
        raise ProtocolError("OP_QUERY collection name is not terminated")
    try:
        collection = data[pos:name_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("OP_QUERY collection name is not UTF-8") from exc
    pos = name_end + 1 + _OP_QUERY_TAIL.size
    query = Fields(data, pos)
    # An optional returnFieldsSelector may follow; it must be a document and the last thing.
    if query.end != len(data) and Fields(data, query.end).end != len(data):
        raise ProtocolError("bytes after the OP_QUERY documents")
    return Request(data, header, 0, query, (), collection)


def count_documents(data: bytes, sequence: Sequence) -> int:
    """Documents in a kind-1 section (for logs only; walks the length prefixes)."""
    pos, count = sequence.start, 0
    while pos < sequence.end:  # each step advances by at least 5 bytes
        if pos + 4 > sequence.end:
            raise ProtocolError("document sequence is truncated")
        (size,) = _INT32.unpack_from(data, pos)
        if size < 5 or pos + size > sequence.end:
            raise ProtocolError("document in a sequence has a bad size")
        pos += size
        count += 1
    return count


class Reply:
    """One engine reply (OP_MSG or OP_REPLY). Its document is indexed only when asked for.

    Most replies are only forwarded; their one fact the gateway wants is `ok`, which the
    engine puts last in successful replies, so it is read from the tail when it is there.
    """

    __slots__ = ("data", "header", "flags", "_start", "_end", "_body")

    def __init__(self, data: bytes, header: Header, flags: int, start: int, end: int) -> None:
        self.data = data
        self.header = header
        self.flags = flags
        self._start = start  # the first document's bounds
        self._end = end
        self._body: Fields | None = None

    @property
    def body(self) -> Fields:
        """The first document's index (raises ProtocolError if it is malformed)."""
        if self._body is None:
            self._body = Fields(self.data, self._start, self._end)
        return self._body

    @property
    def ok(self) -> bool:
        """`ok: 1` (any numeric type or true); a missing `ok` counts as failure."""
        data, end = self.data, self._end
        if end - self._start >= 17 and data[end - 13 : end - 9] == b"\x01ok\x00" and data[end - 1] == 0:
            # Only logging depends on this: a document that merely ends in these bytes costs a log line.
            return bool(_DOUBLE.unpack_from(data, end - 9)[0] == 1.0)
        body = self.body
        value = body.get("ok") if "ok" in body else None
        return value is not None and value is not False and value == 1


def parse_reply(data: bytes) -> Reply:
    """A complete engine reply: header, flags and the bounds of its first document."""
    header = parse_header(data)
    if header.op_code == OP_MSG:
        if len(data) < HEADER_SIZE + 4 + 1 + 5:
            raise ProtocolError("OP_MSG reply too short")
        (flags,) = _UINT32.unpack_from(data, HEADER_SIZE)
        end = len(data) - (4 if flags & CHECKSUM_PRESENT else 0)
        start = HEADER_SIZE + 5
        if data[start - 1] != 0:
            raise ProtocolError("OP_MSG reply does not start with its command document")
    elif header.op_code == OP_REPLY:
        start = HEADER_SIZE + _OP_REPLY_HEAD.size
        end = len(data)
        flags = 0
    else:
        raise ProtocolError(f"engine replied with opcode {header.op_code}")
    if end - start < 5:
        raise ProtocolError("reply without a document")
    size: int
    (size,) = _INT32.unpack_from(data, start)
    if size < 5 or start + size > end:
        raise ProtocolError(f"reply document size {size} outside the message")
    return Reply(data, header, flags, start, start + size)


def without_more_to_come(reply: Reply) -> bytes:
    """The reply bytes with moreToCome cleared: the gateway never starts an exhaust stream."""
    if reply.header.op_code != OP_MSG or not reply.flags & MORE_TO_COME:
        return reply.data
    patched = bytearray(reply.data)
    _UINT32.pack_into(patched, HEADER_SIZE, reply.flags & ~MORE_TO_COME)
    return bytes(patched)


def build_op_msg(doc: Mapping[str, Any], response_to: int, request_id: int | None = None) -> bytes:
    """An OP_MSG with one kind-0 section and no flags."""
    body = b"\x00\x00\x00\x00\x00" + bson.encode(doc)
    rid = next_request_id() if request_id is None else request_id
    return HEADER.pack(HEADER_SIZE + len(body), rid, response_to, OP_MSG) + body


def build_op_reply(doc: Mapping[str, Any], response_to: int, request_id: int | None = None) -> bytes:
    """An OP_REPLY carrying one document, the answer to an OP_QUERY command."""
    body = _OP_REPLY_HEAD.pack(0, 0, 0, 1) + bson.encode(doc)
    rid = next_request_id() if request_id is None else request_id
    return HEADER.pack(HEADER_SIZE + len(body), rid, response_to, OP_REPLY) + body


def build_op_query(collection: str, doc: Mapping[str, Any], request_id: int) -> bytes:
    """An OP_QUERY command (used to forward a rewritten legacy handshake)."""
    body = _INT32.pack(0) + collection.encode("utf-8") + b"\x00" + _OP_QUERY_TAIL.pack(0, -1) + bson.encode(doc)
    return HEADER.pack(HEADER_SIZE + len(body), request_id, 0, OP_QUERY) + body


def reply_for(request: Request, doc: Mapping[str, Any], request_id: int | None = None) -> bytes:
    """A reply in the request's own dialect (OP_REPLY for OP_QUERY, OP_MSG otherwise)."""
    build = build_op_reply if request.legacy else build_op_msg
    return build(doc, request.header.request_id, request_id)


def error_document(code: ErrorCode, message: str, labels: tuple[str, ...] = ()) -> dict[str, Any]:
    """MongoDB's command error shape."""
    doc: dict[str, Any] = {"ok": 0.0, "errmsg": message, "code": int(code), "codeName": code.name}
    if labels:
        doc["errorLabels"] = list(labels)
    return doc


def with_new_body(request: Request, doc: Mapping[str, Any]) -> bytes:
    """The request re-encoded with another command document, same id, sequences kept, no checksum."""
    if request.legacy:
        assert request.legacy_collection is not None
        return build_op_query(request.legacy_collection, doc, request.header.request_id)
    sections = [b"\x00" + bson.encode(doc)]
    for seq in request.sequences:
        payload = seq.identifier.encode("utf-8") + b"\x00" + request.data[seq.start : seq.end]
        sections.append(b"\x01" + _INT32.pack(len(payload) + 4) + payload)
    # No checksum (the body changed); never exhaust (the gateway answers one reply per request).
    body = _UINT32.pack(request.flags & ~(CHECKSUM_PRESENT | EXHAUST_ALLOWED)) + b"".join(sections)
    header = request.header
    return HEADER.pack(HEADER_SIZE + len(body), header.request_id, header.response_to, OP_MSG) + body
