"""What a child process is started with."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    """In a child before exec: SIGTERM it when its parent dies, however it dies (Linux
    PR_SET_PDEATHSIG), so a killed archiver never leaves its helper running alone."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
