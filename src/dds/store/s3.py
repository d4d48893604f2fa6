"""An S3-compatible bucket through boto3: multipart uploads and ranged streaming reads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from dds.core.errors import BackupCorrupt
from dds.core.settings import Settings
from dds.store.base import CHUNK, Sink

# Bounded parts and threads keep memory flat whatever the archive size.
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=16 * 1024**2, max_concurrency=4)
_PART = 16 * 1024**2  # bytes per uploaded part of a streamed archive
_PARTS_IN_FLIGHT = 2  # parts uploading while the next one fills: memory stays at (2 + 1) parts


class _MultipartSink:
    """Fills parts and uploads them in the background; at most `_PARTS_IN_FLIGHT` at a time."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.client, self.bucket, self.key, self.upload_id = client, bucket, key, upload_id
        self._buf = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=_PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
        self._slots = threading.BoundedSemaphore(_PARTS_IN_FLIGHT)
        self._parts: list[Future[dict[str, Any]]] = []

    def write(self, data: bytes, /) -> int:
        self._buf += data
        while len(self._buf) >= _PART:
            self._send(bytes(self._buf[:_PART]))
            del self._buf[:_PART]
        return len(data)

    def _send(self, body: bytes) -> None:
        self._slots.acquire()
        number = len(self._parts) + 1
        future = self._pool.submit(self._upload, number, body)
        future.add_done_callback(lambda _: self._slots.release())
        self._parts.append(future)

    def _upload(self, number: int, body: bytes) -> dict[str, Any]:
        r = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": r["ETag"]}

    def finish(self) -> None:
        if self._buf or not self._parts:
            self._send(bytes(self._buf))  # the last part may be short (or the only, empty one)
            self._buf.clear()
        parts = [f.result() for f in self._parts]
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class S3Store:
    name = "s3"

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            region_name=settings.s3_region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        self._bucket_ready = False
        self._guard = threading.Lock()

    def ensure_bucket(self) -> None:
        """On first write, not at start-up: the service starts even while the bucket is out of reach."""
        with self._guard:
            if self._bucket_ready:
                return
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self.client.create_bucket(Bucket=self.bucket)
            self._bucket_ready = True

    def put(self, key: str, source: Path) -> None:
        self.ensure_bucket()
        # A multipart upload becomes visible only when completed, so a killed upload leaves no object.
        self.client.upload_file(str(source), self.bucket, key, Config=_TRANSFER)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        """A multipart upload: the object appears only on completion; aborted on failure."""
        self.ensure_bucket()
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        sink = _MultipartSink(self.client, self.bucket, key, upload_id)
        try:
            yield sink
            sink.finish()
        except BaseException:
            sink.close()
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        sink.close()

    def fetch(self, key: str, dest: Path) -> None:
        try:
            self.client.download_file(self.bucket, key, str(dest), Config=_TRANSFER)
        except ClientError as exc:
            raise BackupCorrupt(f"The backup file cannot be fetched from the bucket: {exc}.") from None

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError:
            return None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        rng = f"bytes={start}-" + ("" if end is None else str(end))
        body = self.client.get_object(Bucket=self.bucket, Key=key, Range=rng)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.ensure_bucket()
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def presigned_url(self, key: str, expires: datetime, ttl_seconds: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
            )
        )
