"""Encryption at rest for AK/SK secret keys.

The SDK signs with the raw secret key as HMAC key, so the server must be
able to recover it: it is encrypted (Fernet: AES-128-CBC + HMAC-SHA256)
with a key file kept next to the metadata, readable by the service user only.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts secret keys with one key file."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet = Fernet(_load_or_create(key_file))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        """The secret; raises ValueError when the key file is not the one that sealed it."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise ValueError(f"secret cannot be decrypted with {self.key_file}") from None


def _load_or_create(path: Path) -> bytes:
    """Create the key file atomically (0600) on first use; the CLI and the service may race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
