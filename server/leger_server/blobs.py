"""Where bundle bytes live: a local directory, or an S3-compatible bucket (R2, MinIO, AWS S3,
seaweedfs). Both take a finished file and stream it (never whole in memory) and hand bytes back
as an iterator of chunks.

URLs: a path or ``file:///path`` for a directory; ``s3://bucket/prefix?endpoint=URL&region=R``
for a bucket (credentials from the usual ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from leger_core.fsutil import fsync_dir

CHUNK = 64 * 1024
_KEY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (the file may be moved or consumed)."""
        ...

    def iter_chunks(self, key: str) -> Iterator[bytes]: ...

    def size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...

    def check(self) -> None:
        """Raise if the store cannot be used (at start)."""
        ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_file(self, key: str, path: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(path, dest)  # same filesystem when staged under the data dir
        except OSError:
            import shutil

            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        fsync_dir(dest.parent)

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        create_bucket: bool = False,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.create_bucket = create_bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or os.environ.get("AWS_REGION") or "us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, endpoint={self.endpoint_url!r})"

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            if not self.create_bucket:
                raise
            self._client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        # Streams from disk in 8 MiB parts, two at a time: memory stays bounded whatever the
        # size (boto3's default of ten parallel parts would hold 80 MiB).
        config = TransferConfig(
            multipart_threshold=8 * 1024 * 1024,
            multipart_chunksize=8 * 1024 * 1024,
            max_concurrency=2,
        )
        self._client.upload_file(
            str(path),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": "application/gzip"},
            Config=config,
        )

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        obj = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        body = obj["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return None
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))


def open_blob_store(url: str) -> BlobStore:
    if url.startswith("s3://"):
        parsed = urlparse(url)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        if not parsed.netloc:
            raise ValueError("an s3:// blobs URL needs a bucket: s3://bucket/prefix")
        return S3BlobStore(
            parsed.netloc,
            parsed.path,
            endpoint_url=query.get("endpoint"),
            region=query.get("region"),
            create_bucket=query.get("create", "") in ("1", "true", "yes"),
        )
    if url.startswith("file://"):
        url = urlparse(url).path
    if "://" in url:
        raise ValueError(f"unsupported blobs URL {url!r}: use a directory or s3://bucket")
    return LocalBlobStore(Path(url))
