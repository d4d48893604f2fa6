"""What the engine cannot take, found in a request's BSON before it is forwarded.

FerretDB v1 does not answer some well-formed requests with an error: it drops the connection. Its
wire reader refuses whole messages holding BSON types it has no model for (undefined, DBPointer,
JavaScript code, Symbol, code with scope, MinKey, MaxKey), NaN doubles, a boolean byte other than
0/1 or arrays whose keys are not 0, 1, 2…; it panics, inside some commands (`sort`, `$set`,
`$project`, `$addFields`, operator documents), on a field name that repeats in one document. A
panic also leaves iterators unclosed, whose finalizers later crash the whole engine process. So
the gateway walks every document of a request (the command document and each OP_MSG document
sequence) once, iteratively, and refuses such a request with MongoDB's error shape; the connection
stays usable.

Codes: a type or value MongoDB accepts but the engine cannot store or read is
`NotImplemented` (238); a repeated field name or a malformed array is `BadValue` (2); nested
BSON that is not well-formed is `InvalidBSON` (22), as mongod answers it (a malformed
message frame or command document is still a protocol error that closes the connection).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.fields import ARRAY, Fields
from dds.gateway.wire import Request

_INT32 = struct.Struct("<i")
_DOUBLE = struct.Struct("<d")

# Types the engine cannot handle, by BSON type byte, with the names MongoDB's docs use.
UNSUPPORTED_TYPES = {
    0x06: "undefined",
    0x0C: "DBPointer",
    0x0D: "JavaScript code",
    0x0E: "Symbol",
    0x0F: "JavaScript code with scope",
    0x7F: "MaxKey",
    0xFF: "MinKey",
}
# Scalars of a fixed size the engine takes as they are (double and bool are checked apart).
_FIXED = {0x07: 12, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}  # 0x13: Decimal128 (patch 0018)
_DOUBLE_TYPE, _STRING, _DOCUMENT, _ARRAY, _BINARY, _BOOL, _REGEX = 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0B
_ARRAY_KEYS = tuple(str(i).encode() for i in range(1000))


# Commands of sessions' transactions: the engine applies every command on its own.
TRANSACTION_COMMANDS = frozenset(("commitTransaction", "abortTransaction"))
# `aggregate: 1` (a number, not a collection's name): a database-level aggregation.
_NUMBER_TYPES = frozenset((0x01, 0x10, 0x12))  # double, int32, int64


def screen(request: Request) -> None:
    """Raise Refusal if the request asks for what the engine does not have, or any of its
    documents holds what the engine cannot take."""
    unsupported = unsupported_feature(request)
    if unsupported is not None:
        raise unsupported
    data = request.data
    body = request.body
    problem = scan(data, body.start, body.end)
    if problem is not None:
        raise problem
    for seq in request.sequences:
        pos, index = seq.start, 0
        while pos < seq.end:
            if pos + 4 > seq.end:
                raise _invalid(seq.identifier, "document sequence is truncated")
            (size,) = _INT32.unpack_from(data, pos)
            if size < 5 or pos + size > seq.end:
                raise _invalid(f"{seq.identifier}.{index}", f"document size {size} outside its sequence")
            problem = scan(data, pos, pos + size, f"{seq.identifier}.{index}")
            if problem is not None:
                raise problem
            pos += size
            index += 1


def unsupported_feature(request: Request) -> Refusal | None:
    """NotImplemented (238), naming the feature, for what the engine would answer with an error
    that does not say so ("unknown field startTransaction", "no such command", "Invalid command
    format"): drivers and people then know what is missing."""
    body = request.body
    if request.command in TRANSACTION_COMMANDS or "startTransaction" in body:
        return Refusal(
            ErrorCode.NotImplemented,
            "multi-document transactions are not supported by this instance's database engine: "
            "run the commands without a transaction (each command is applied on its own)",
        )
    if request.command == "aggregate" and body.kind("aggregate") in _NUMBER_TYPES and not _change_stream(body):
        return Refusal(
            ErrorCode.NotImplemented,
            "aggregate on a whole database ($currentOp, $documents, $listLocalSessions) is not supported by "
            "this instance's database engine (a database's or the deployment's change stream is)",
        )
    return None


def _change_stream(body: Fields) -> bool:
    """The pipeline opens a change stream (db.watch(), client.watch()): the engine serves those."""
    pipeline = body.get("pipeline") if body.kind("pipeline") == ARRAY else None
    first = pipeline[0] if isinstance(pipeline, list) and pipeline else None
    return isinstance(first, Mapping) and next(iter(first), None) == "$changeStream"


def scan(raw: bytes, start: int, limit: int, root: str = "") -> Refusal | None:
    """The first thing the engine cannot take in the document at raw[start:], which must end by `limit`.

    `root` names the document in messages (a sequence's `documents.3`; "" for the command).
    Iterative, one pass, every length checked against its container: any input ends in
    None or a Refusal, never an exception, whatever the nesting depth.
    """
    unpack_int = _INT32.unpack_from
    if start < 0 or limit - start < 5:
        return _invalid(root, "document shorter than 5 bytes")
    (size,) = unpack_int(raw, start)
    if size < 5 or start + size > limit or raw[start + size - 1] != 0:
        return _invalid(root, f"document size {size} outside its container")
    # One frame per open container: (its parent's end, array?, names, next index, its own name).
    stack: list[tuple[int, bool, set[bytes], int, bytes]] = []
    end = start + size - 1  # the terminating NUL of the container being walked
    pos = start + 4
    array = False
    names: set[bytes] = set()
    index = 0
    fixed_sizes = _FIXED
    keys = _ARRAY_KEYS
    find = raw.find
    while True:
        if pos >= end:
            if pos > end:
                return _invalid(_path(root, stack, b""), "elements overrun their document")
            if not stack:
                return None
            pos = end + 1
            end, array, names, index, _ = stack.pop()
            continue
        kind = raw[pos]
        name_end = find(0, pos + 1, end)
        if name_end < 0:
            return _invalid(_path(root, stack, b""), "field name runs past its document")
        name = raw[pos + 1 : name_end]
        if array:
            expected = keys[index] if index < 1000 else str(index).encode()
            if name != expected:
                return Refusal(
                    ErrorCode.BadValue,
                    f"array {_path(root, stack, b'')!r} has an element named {_text(name)!r} where "
                    f"{expected.decode()!r} belongs: the database engine takes only arrays keyed 0, 1, 2, …",
                )
            index += 1
        elif name in names:
            return Refusal(
                ErrorCode.BadValue,
                f"field name {_text(name)!r} appears twice in {_path(root, stack, b'') or 'the command'!r}: "
                "the database engine does not take repeated field names",
            )
        else:
            names.add(name)
        value = name_end + 1
        if kind == _DOCUMENT or kind == _ARRAY:
            if value + 4 > end:
                return _invalid(_path(root, stack, name), "length runs past its document")
            (n,) = unpack_int(raw, value)
            stop = value + n
            if n < 5 or stop > end or raw[stop - 1] != 0:
                return _invalid(_path(root, stack, name), f"embedded document size {n} outside its container")
            stack.append((end, array, names, index, name))
            end, pos, array, names, index = stop - 1, value + 4, kind == _ARRAY, set(), 0
            continue
        fixed = fixed_sizes.get(kind)
        if fixed is not None:
            stop = value + fixed
        elif kind == _STRING:
            if value + 4 > end:
                return _invalid(_path(root, stack, name), "length runs past its document")
            (n,) = unpack_int(raw, value)
            stop = value + 4 + n
            if n < 1 or stop > end or raw[stop - 1] != 0:
                return _invalid(_path(root, stack, name), "string length outside its document")
        elif kind == _DOUBLE_TYPE:
            stop = value + 8
            # NaN and infinities have every exponent bit set; only NaN is refused by the engine.
            if stop <= end and raw[value + 7] & 0x7F == 0x7F and raw[value + 6] >= 0xF0:
                number = _DOUBLE.unpack_from(raw, value)[0]
                if number != number:
                    return _not_implemented(_path(root, stack, name), "NaN")
        elif kind == _BOOL:
            stop = value + 1
            if stop <= end and raw[value] > 1:
                return _invalid(_path(root, stack, name), f"boolean byte 0x{raw[value]:02x}")
        elif kind == _BINARY:
            if value + 5 > end:
                return _invalid(_path(root, stack, name), "length runs past its document")
            (n,) = unpack_int(raw, value)
            if n < 0:
                return _invalid(_path(root, stack, name), "negative binary length")
            stop = value + 5 + n
        elif kind == _REGEX:
            first = raw.find(0, value, end)
            second = raw.find(0, first + 1, end) if first >= 0 else -1
            if second < 0:
                return _invalid(_path(root, stack, name), "regular expression runs past its document")
            stop = second + 1
        elif kind in UNSUPPORTED_TYPES:
            return _not_implemented(_path(root, stack, name), UNSUPPORTED_TYPES[kind])
        else:
            return _invalid(_path(root, stack, name), f"unknown BSON type 0x{kind:02x}")
        if stop > end:
            return _invalid(_path(root, stack, name), "value runs past its document")
        pos = stop


def _text(name: bytes) -> str:
    return name.decode("utf-8", "backslashreplace")


def _path(root: str, stack: list[tuple[int, bool, set[bytes], int, bytes]], name: bytes) -> str:
    """The dotted path of a field for messages (`documents.0.price`), only built when refusing."""
    parts = [root] if root else []
    parts += [_text(frame[4]) for frame in stack]
    if name:
        parts.append(_text(name))
    return ".".join(parts)


def _not_implemented(path: str, what: str) -> Refusal:
    return Refusal(
        ErrorCode.NotImplemented,
        f"{what} values are not supported by this instance's database engine (field {path!r})",
    )


def _invalid(path: str, reason: str) -> Refusal:
    where = f" in field {path!r}" if path else ""
    return Refusal(ErrorCode.InvalidBSON, f"invalid BSON{where}: {reason}")
