"""What the service's helper processes share: how they start and how they are asked to stop."""

from __future__ import annotations

import ctypes
import logging
import signal
import threading


def die_with_parent() -> None:
    """In a child before exec: SIGTERM it when its parent dies, however it dies (Linux
    PR_SET_PDEATHSIG), so a killed archiver never leaves its helper running alone."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def asked_to_stop() -> threading.Event:
    """In a helper process's main: its log lines in the one format, and an event that SIGTERM or
    SIGINT sets (the provisioner stops a process group with SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping
