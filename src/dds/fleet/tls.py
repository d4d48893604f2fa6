"""The service's own certificate authority and the node certificates it signs.

One CA per service (`<data_dir>/tls/ca.pem`, its key 0600 beside it), made on first use. A
node whose instance has TLS on gets a server certificate for its client address, signed by
that CA, in `<node_dir>/tls/`; its gateway terminates TLS with it. Clients verify with the CA
PEM the API hands out (`ssl-cert/download-link`). EC P-256 keys: generated in milliseconds.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dds.core.settings import Settings

_lock = threading.Lock()
CA_DAYS = 3650
NODE_DAYS = 825


def ca_dir(settings: Settings) -> Path:
    return settings.data_dir / "tls"


def ca_cert_path(settings: Settings) -> Path:
    return ca_dir(settings) / "ca.pem"


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, with its mode from the start (a key is never readable by others, even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_ca(settings: Settings) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The service's CA, generated once."""
    cert_path, key_path = ca_cert_path(settings), ca_dir(settings) / "ca.key"
    with _lock:
        if not (cert_path.exists() and key_path.exists()):
            ca_dir(settings).mkdir(mode=0o700, parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DDS self-hosted CA")])
            now = datetime.now(UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256())
            )
            _write(key_path, _key_pem(key), 0o600)
            _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path} is not an EC private key")
    return cert, loaded


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def node_certificate(settings: Settings, node_dir: Path, hosts: list[str]) -> tuple[Path, Path]:
    """A server certificate for `hosts`, signed by the CA; returns (certificate chain, key) paths."""
    ca_cert, ca_key = ensure_ca(settings)
    out = node_dir / "tls"
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    names = list(dict.fromkeys([*hosts, "localhost", "127.0.0.1"]))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=NODE_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = out / "server.pem", out / "server.key"
    _write(key_path, _key_pem(key), 0o600)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    _write(cert_path, chain, 0o644)
    return cert_path, key_path
