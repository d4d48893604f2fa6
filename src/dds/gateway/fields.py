"""Top-level fields of a BSON document without decoding it.

The gateway needs a command's name, `$db` and a handful of keys, and a reply's `ok`. Walking
the top level and skipping nested values by their length prefix costs the same for a 100-byte
`ping` and a 16 MiB `insert`, where a full decode would not. Values are decoded one at a time,
on demand. Every bound is checked: bad input raises ProtocolError, never anything else.
"""

from __future__ import annotations

import struct
from typing import Any

import bson

from dds.gateway.errors import ProtocolError

_INT32 = struct.Struct("<i")
_DOUBLE = struct.Struct("<d")

# BSON element types whose value has a fixed size.
_FIXED_SIZE = {
    0x01: 8,  # double
    0x06: 0,  # undefined
    0x07: 12,  # ObjectId
    0x08: 1,  # bool
    0x09: 8,  # UTC datetime
    0x0A: 0,  # null
    0x10: 4,  # int32
    0x11: 8,  # timestamp
    0x12: 8,  # int64
    0x13: 16,  # decimal128
    0x7F: 0,  # max key
    0xFF: 0,  # min key
}
_STRING_LIKE = frozenset((0x02, 0x0D, 0x0E))  # string, JavaScript code, symbol: int32 length + bytes
_DOCUMENT_LIKE = frozenset((0x03, 0x04, 0x0F))  # document, array, code with scope: int32 total size
STRING = 0x02
DOCUMENT = 0x03
ARRAY = 0x04


def decode_document(raw: bytes | memoryview) -> dict[str, Any]:
    """Full decode of one document, for the rare paths (hello, SASL, logs)."""
    try:
        return bson.decode(raw)
    except Exception as exc:  # bson's C decoder raises several unrelated types on garbage
        raise ProtocolError(f"invalid BSON document: {exc}") from exc


class Fields:
    """Index of one document's top-level elements: name -> (type, element start, value start, end)."""

    __slots__ = ("raw", "start", "end", "spans", "first", "duplicate")

    def __init__(self, raw: bytes, start: int = 0, limit: int | None = None) -> None:
        """Index the document at `raw[start:]`, which must fit before `limit` (default: the end)."""
        self.raw = raw
        self.start = start
        self.spans: dict[str, tuple[int, int, int, int]] = {}
        self.first: str | None = None
        self.duplicate: str | None = None  # the first repeated name, if any
        limit = len(raw) if limit is None else limit
        if start < 0 or limit - start < 5:
            raise ProtocolError("document shorter than 5 bytes")
        (size,) = _INT32.unpack_from(raw, start)
        if size < 5 or start + size > limit:
            raise ProtocolError(f"document size {size} outside its container")
        self.end = start + size
        self._scan()

    def _scan(self) -> None:
        raw = self.raw
        end = self.end
        if raw[end - 1] != 0:
            raise ProtocolError("document does not end with a NUL byte")
        pos = self.start + 4
        last = end - 1
        spans = self.spans
        fixed_sizes = _FIXED_SIZE
        unpack = _INT32.unpack_from
        # Each pass consumes at least two bytes (type + name terminator), so this ends.
        while pos < last:
            kind = raw[pos]
            name_end = raw.find(b"\x00", pos + 1, last)
            if name_end < 0:
                raise ProtocolError("element name runs past the document")
            try:
                name = raw[pos + 1 : name_end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError("element name is not UTF-8") from exc
            value = name_end + 1
            # The common types inline (this loop runs for every request); the rest in _value_size.
            fixed = fixed_sizes.get(kind)
            if fixed is not None:
                stop = value + fixed
            elif (kind == STRING or kind == DOCUMENT) and value + 4 <= last:
                n = unpack(raw, value)[0]
                if n < (1 if kind == STRING else 5):
                    raise ProtocolError(f"element {name!r} has a bad length")
                stop = value + (4 + n if kind == STRING else n)
            else:
                stop = value + self._value_size(kind, value, last)
            if stop > last:
                raise ProtocolError(f"element {name!r} runs past the document")
            if name in spans:
                if self.duplicate is None:
                    self.duplicate = name
            else:
                spans[name] = (kind, pos, value, stop)
            pos = stop
        if pos != last:
            raise ProtocolError("elements do not fill the document")
        self.first = next(iter(spans), None)

    def _value_size(self, kind: int, value: int, last: int) -> int:
        raw = self.raw
        n: int
        fixed = _FIXED_SIZE.get(kind)
        if fixed is not None:
            return fixed
        if value + 4 > last and kind != 0x0B:
            raise ProtocolError("element length runs past the document")
        if kind in _STRING_LIKE:
            (n,) = _INT32.unpack_from(raw, value)
            if n < 1:
                raise ProtocolError("negative or empty string length")
            return 4 + n
        if kind in _DOCUMENT_LIKE:
            (n,) = _INT32.unpack_from(raw, value)
            if n < 5:
                raise ProtocolError("embedded document shorter than 5 bytes")
            return n
        if kind == 0x05:  # binary: int32 length, subtype byte, bytes
            (n,) = _INT32.unpack_from(raw, value)
            if n < 0:
                raise ProtocolError("negative binary length")
            return 5 + n
        if kind == 0x0B:  # regex: two C strings
            first = raw.find(b"\x00", value, last)
            second = raw.find(b"\x00", first + 1, last) if first >= 0 else -1
            if second < 0:
                raise ProtocolError("regex runs past the document")
            return second + 1 - value
        if kind == 0x0C:  # DBPointer: string + ObjectId
            (n,) = _INT32.unpack_from(raw, value)
            if n < 1:
                raise ProtocolError("negative DBPointer length")
            return 4 + n + 12
        raise ProtocolError(f"unknown BSON element type 0x{kind:02x}")

    def __contains__(self, name: str) -> bool:
        return name in self.spans

    def kind(self, name: str) -> int | None:
        """BSON type byte of a field, or None when absent."""
        span = self.spans.get(name)
        return None if span is None else span[0]

    def get(self, name: str, default: Any = None) -> Any:
        """Decode one top-level value (strings fast, everything else through bson)."""
        span = self.spans.get(name)
        if span is None:
            return default
        kind, elem, value, stop = span
        if kind == 0x01:  # double: the usual type of `ok`, worth a fast path
            return _DOUBLE.unpack_from(self.raw, value)[0]
        if kind == 0x10:
            return _INT32.unpack_from(self.raw, value)[0]
        if kind == 0x08:
            return self.raw[value] != 0
        if kind == STRING:
            try:
                return self.raw[value + 4 : stop - 1].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProtocolError(f"field {name!r} is not UTF-8") from exc
        # A one-element document around the element's own bytes, decoded by the C extension.
        element = self.raw[elem:stop]
        return decode_document(_INT32.pack(len(element) + 5) + element + b"\x00")[name]

    def get_str(self, name: str) -> str | None:
        """A string field's value; None when absent or of another type."""
        span = self.spans.get(name)
        if span is None or span[0] != STRING:
            return None
        try:
            return self.raw[span[2] + 4 : span[3] - 1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"field {name!r} is not UTF-8") from exc

    def sub(self, name: str) -> Fields | None:
        """Index of an embedded document field, without decoding it."""
        span = self.spans.get(name)
        if span is None or span[0] != DOCUMENT:
            return None
        return Fields(self.raw, span[2], span[3])

    def document_bytes(self) -> bytes:
        """The document's own bytes."""
        return self.raw[self.start : self.end]

    def decode(self) -> dict[str, Any]:
        """The whole document (logging and rewrites only)."""
        return decode_document(memoryview(self.raw)[self.start : self.end])
