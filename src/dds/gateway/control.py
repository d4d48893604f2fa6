"""The control channel: how the service asks a running gateway about and for its sessions.

A Unix socket (`control_socket` in the config, `control.sock` in the node directory) speaking
JSON lines, one request and one reply per line:

- `{"op": "sessions"}` → `{"ok": true, "sessions": [...]}`: every open client connection and
  the operation it is running (what DDS "sessions" are; the engine's `currentOp` is empty);
- `{"op": "kill", "ids": [3, 7]}` → `{"ok": true, "killed": [3]}`: a session's running operation
  is answered `Interrupted` (11601, which drivers do not retry), then its client and engine
  connections close (the engine has no `killOp`; closing its connection ends the cursors);
- `{"op": "stats"}` → `{"ok": true, "stats": {...}}`: the live `stats.json` snapshot;
- `{"op": "reload"}` → `{"ok": true, ...}`: as SIGHUP, but answered once the new settings are live.

Why a Unix socket and not a port or signals: it needs no port from the node's range, is not
reachable from the network at all, and the file mode (0600, created under a 0177 umask) plus a
peer-credential check admit only processes of the gateway's own user, i.e. the service. Signals
carry no arguments and no answer; a file the gateway polls would add latency to every kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_LINE = 64 * 1024
# sockaddr_un holds ~107 bytes; deeper node directories are reached through /proc/self/fd.
_SUN_PATH_MAX = 100


@contextmanager
def short_path(path: Path) -> Iterator[str]:
    """A name for `path` that fits a Unix socket address (Linux: through an open directory fd)."""
    if len(os.fsencode(str(path))) <= _SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's user id (SO_PEERCRED), None where the platform cannot tell."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    """Serves the control socket of one gateway; `handle` answers one parsed request."""

    def __init__(self, path: Path, handle: Handler) -> None:
        self.path = path
        self.handle = handle
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)  # a stale socket of a killed predecessor
        old = os.umask(0o177)  # the socket file is born 0600: no window in which others can connect
        try:
            with short_path(self.path) as name:
                self._server = await asyncio.start_unix_server(self._client, path=name, limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        try:
            uid = peer_uid(sock) if isinstance(sock, socket.socket) else None
            if uid is not None and uid != os.getuid():
                return
            while line := await reader.readline():
                writer.write(json.dumps(self._answer(line), default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not JSON"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        try:
            return self.handle(request)
        except Exception as exc:  # a bad request must never take the gateway down
            return {"ok": False, "error": repr(exc)[:300]}

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.path.unlink(missing_ok=True)


def request(path: Path, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """One request to a gateway's control socket (the service's side); raises OSError if unreachable."""
    with short_path(path) as name, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(name)
        sock.sendall(json.dumps(message).encode() + b"\n")
        buf = bytearray()
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the control connection")
            buf += chunk
    reply = json.loads(buf)
    if not isinstance(reply, dict):
        raise ConnectionError("the gateway sent a malformed control reply")
    return reply
