"""The gateway of a node whose data is lost or damaged: it holds the node's client port and
answers every request with MongoDB's error for a member that cannot serve
(`NotPrimaryOrSecondary`, as a recovering member answers), naming why, instead of letting a
client reach an engine with nothing in it. It never connects to an engine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from pathlib import Path
from typing import cast

from dds.gateway.config import REFUSE, GatewayConfig
from dds.gateway.errors import ProtocolError
from dds.gateway.logs import GatewayLogs, utc_now
from dds.gateway.wire import MAX_MESSAGE_SIZE, frame_length, parse_request, reply_for

NOT_PRIMARY_OR_SECONDARY = 13436  # MongoDB's code for a node in RECOVERING state


class RefusingConnection(asyncio.Protocol):
    def __init__(self, reason: str, logs: GatewayLogs) -> None:
        self.reason = reason
        self.logs = logs
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are no asyncio.Transport subclass
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            try:
                length = frame_length(self.buffer, MAX_MESSAGE_SIZE)
                if length is None or len(self.buffer) < length:
                    return
                request = parse_request(bytes(self.buffer[:length]))
            except ProtocolError:
                self.transport.close()
                return
            del self.buffer[:length]
            doc = {
                "ok": 0.0,
                "errmsg": self.reason,
                "code": NOT_PRIMARY_OR_SECONDARY,
                "codeName": "NotPrimaryOrSecondary",
            }
            self.logs.error.write(
                {
                    "time": utc_now(),
                    "client": self.peer,
                    "command": request.command,
                    "code": doc["code"],
                    "error": self.reason,
                }
            )
            if not request.more_to_come:
                self.transport.write(reply_for(request, doc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(config: GatewayConfig) -> int:
    """Refuse on the node's client port until SIGTERM/SIGINT."""
    reason = str(config.extra[REFUSE])
    logs = GatewayLogs(Path(config.log_dir))
    tls: ssl.SSLContext | None = None
    if config.tls_cert_file and config.tls_key_file:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RefusingConnection(reason, logs), config.listen_host, config.listen_port, reuse_address=True, ssl=tls
    )
    logs.event("refusing", pid=os.getpid(), listen=f"{config.listen_host}:{config.listen_port}", reason=reason)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # nothing to reload: the service restarts it
    await stop.wait()
    server.close()
    logs.event("stopped", pid=os.getpid())
    logs.close()
    return 0
