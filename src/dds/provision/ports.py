"""Port allocation from the configured range, checked free on the host."""

from __future__ import annotations

import socket
from collections.abc import Iterable


def is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick(host: str, low: int, high: int, taken: Iterable[int], count: int = 1) -> list[int]:
    """`count` ports in [low, high] that metadata does not hold and the host has free."""
    used = set(taken)
    found: list[int] = []
    for port in range(low, high + 1):
        if port in used:
            continue
        if is_free(host, port):
            found.append(port)
            if len(found) == count:
                return found
    return []
