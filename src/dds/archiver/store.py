"""Read access to a replica (local directory or S3), plus the archive's own index.

Only what restore ranges need: list keys with sizes, read a key's first bytes, and
write/delete the small objects the archiver owns. LTX headers are immutable once
written, so they are cached per (key, size).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from dds.archiver.config import INDEX_KEY, DirReplica, ReplicaTarget, S3Replica
from dds.archiver.ltx import HEADER_SIZE, LtxFile, parse_header, parse_name


class ReplicaStore(Protocol):
    def keys(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` (relative to the replica root) with its size."""
        ...

    def read(self, key: str, length: int | None = None) -> bytes:
        """The object's bytes (the first `length` of them); KeyError when it is absent."""
        ...

    def write(self, key: str, data: bytes) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...


class DirStore:
    """A replica in a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, prefix: str) -> dict[str, int]:
        base = self.root / prefix
        out: dict[str, int] = {}
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = Path(dirpath) / name
                try:
                    out[path.relative_to(self.root).as_posix()] = path.stat().st_size
                except FileNotFoundError:  # compaction or retention removed it meanwhile
                    continue
        return out

    def read(self, key: str, length: int | None = None) -> bytes:
        try:
            with open(self.root / key, "rb") as f:
                return f.read() if length is None else f.read(length)
        except FileNotFoundError as e:
            raise KeyError(key) from e

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def delete_prefix(self, prefix: str) -> None:
        path = self.root / prefix
        if path.is_file():
            path.unlink()
        shutil.rmtree(path, ignore_errors=True)


class S3Store:
    """A replica in an S3 bucket under a prefix."""

    def __init__(self, replica: S3Replica, client: Any = None) -> None:
        self.replica = replica
        self.client = client if client is not None else _s3_client(replica)

    def keys(self, prefix: str) -> dict[str, int]:
        full = self.replica.key(prefix)
        strip = len(self.replica.key(""))
        out: dict[str, int] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.replica.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                out[obj["Key"][strip:]] = int(obj["Size"])
        return out

    def read(self, key: str, length: int | None = None) -> bytes:
        kwargs: dict[str, Any] = {"Bucket": self.replica.bucket, "Key": self.replica.key(key)}
        if length is not None:
            kwargs["Range"] = f"bytes=0-{length - 1}"
        try:
            resp = self.client.get_object(**kwargs)
        except (self.client.exceptions.NoSuchKey, self.client.exceptions.NoSuchBucket) as e:
            raise KeyError(key) from e  # no bucket yet: nothing archived yet
        return bytes(resp["Body"].read())

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.replica.bucket, Key=self.replica.key(key), Body=data)

    def delete_prefix(self, prefix: str) -> None:
        keys = list(self.keys(prefix))
        for i in range(0, len(keys), 1000):
            objs = [{"Key": self.replica.key(k)} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.replica.bucket, Delete={"Objects": objs})


def open_store(replica: ReplicaTarget) -> ReplicaStore:
    if isinstance(replica, DirReplica):
        return DirStore(replica.path)
    return S3Store(replica)


class LtxLister:
    """LTX files under replica prefixes, reading each header once."""

    def __init__(self, store: ReplicaStore, concurrency: int = 16) -> None:
        self.store = store
        self.concurrency = concurrency
        self._headers: dict[tuple[str, int], tuple[int, int, int]] = {}

    def files(self, prefix: str) -> list[LtxFile]:
        listed = {(k, size): name for k, size in self.store.keys(prefix + "/").items() if (name := parse_name(k))}
        missing = [ks for ks in listed if ks not in self._headers and ks[1] >= HEADER_SIZE]
        # Object stores answer one small read at a time: read the new headers side by side.
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for ks, header in zip(missing, pool.map(self._header, missing), strict=True):
                if header is not None:
                    self._headers[ks] = header
        out: list[LtxFile] = []
        for ks, (level, _min, _max) in listed.items():
            header = self._headers.get(ks)
            if header is not None:
                min_txid, max_txid, ts = header
                out.append(LtxFile(timestamp_ms=ts, level=level, min_txid=min_txid, max_txid=max_txid))
        return out

    def _header(self, key_size: tuple[str, int]) -> tuple[int, int, int] | None:
        try:
            return parse_header(self.store.read(key_size[0], HEADER_SIZE))
        except KeyError:  # deleted by compaction or retention since the listing
            return None

    def prefixes(self, parent: str, depth: int) -> set[str]:
        """Distinct key prefixes `depth` path segments below `parent` (e.g. incarnation paths)."""
        out: set[str] = set()
        for key in self.store.keys(parent + "/"):
            parts = key.split("/")
            if len(parts) > depth + 1:
                out.add("/".join(parts[: depth + 1]))
        return out


def read_index(store: ReplicaStore) -> bytes | None:
    try:
        return store.read(INDEX_KEY)
    except KeyError:
        return None


def _s3_client(replica: S3Replica) -> Any:
    import boto3
    from botocore.config import Config

    style = "path" if replica.force_path_style else "auto"
    return boto3.client(
        "s3",
        endpoint_url=replica.endpoint or None,
        region_name=replica.region,
        aws_access_key_id=replica.access_key or None,
        aws_secret_access_key=replica.secret_key or None,
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 3}),
    )
