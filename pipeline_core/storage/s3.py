"""S3 storage through boto3 (``PIPELINE_STORAGE_URL=s3://bucket/prefix``).

Credentials come from boto3's usual chain (environment, profile, instance role), never from
dmo-pipeline's settings. ``PIPELINE_S3_ENDPOINT_URL`` points at another S3 API (moto,
LocalStack, MinIO). Uploads and downloads go through boto3's transfer manager, which
splits files above ``multipart_threshold`` into parallel multipart transfers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from pipeline_core.exceptions import StorageError
from pipeline_core.masking import mask_text
from pipeline_core.storage.base import JSONL, StoredObject
from pipeline_core.storage.keys import check_key

#: Files above this size are uploaded in parts (S3's smallest part is 5 MiB).
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024


class S3Storage:
    """Objects under ``prefix`` in one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNK,
        client: Any = None,
        timeout: float = 10.0,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        if self.prefix:
            check_key(self.prefix)
        # Every call is bounded (PIPELINE_AWS_TIMEOUT): a frozen endpoint fails the call
        # instead of holding the job; the scrape job retries storing its file.
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize
        )

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, **kwargs: Any) -> S3Storage:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"{url!r} is not an s3://bucket/prefix URL")
        return cls(parts.netloc, parts.path, endpoint_url=endpoint_url, **kwargs)

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _no_bucket(self, action: str, key: str) -> str:
        return (
            f"S3 could not {action} {self.url(key)}: there is no bucket {self.bucket!r} at "
            "this endpoint; check PIPELINE_STORAGE_URL (and PIPELINE_S3_ENDPOINT_URL), or "
            "create the bucket"
        )

    @contextmanager
    def _translated(self, action: str, key: str) -> Iterator[None]:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "?")
            if code in ("NoSuchKey", "404"):
                raise StorageError(f"no object {key!r} in {self.url(key)}") from None
            if code == "NoSuchBucket":
                raise StorageError(self._no_bucket(action, key)) from None
            raise StorageError(
                f"S3 could not {action} {self.url(key)}: {code}: {error.get('Message', '')}"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(
                f"S3 could not {action} {self.url(key)}: {mask_text(str(exc))}"
            ) from None
        except S3UploadFailedError as exc:  # upload_file wraps the ClientError in text
            if "NoSuchBucket" in str(exc):
                raise StorageError(self._no_bucket(action, key)) from None
            raise StorageError(
                f"S3 could not {action} {self.url(key)}: {mask_text(str(exc))}"
            ) from None

    def put_file(self, key: str, path: Path, content_type: str = JSONL) -> str:
        with self._translated("store", key):
            self.client.upload_file(
                str(path),
                self.bucket,
                self._name(key),
                ExtraArgs={"ContentType": content_type},
                Config=self.transfer,
            )
        return self.url(key)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = JSONL, cache_control: str | None = None
    ) -> str:
        extra = {"CacheControl": cache_control} if cache_control else {}
        with self._translated("store", key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._name(key),
                Body=data,
                ContentType=content_type,
                **extra,
            )
        return self.url(key)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Downloads the object into a temporary file (parallel ranged parts for big ones)
        and opens that, so a large file is never held in memory."""
        with tempfile.TemporaryFile(prefix="dmo-s3-") as handle:
            with self._translated("read", key):
                self.client.download_fileobj(
                    self.bucket, self._name(key), handle, Config=self.transfer
                )
            handle.seek(0)
            yield handle  # type: ignore[misc]

    def read(self, key: str) -> bytes:
        with self._translated("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
            data: bytes = body.read()
        return data

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._translated("look up", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return False
                raise
        return True

    def list(self, prefix: str) -> Iterator[StoredObject]:
        start = len(self.prefix) + 1 if self.prefix else 0
        with self._translated("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._name(prefix) + "/"
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    yield StoredObject(entry["Key"][start:], entry["Size"], entry["LastModified"])

    def delete(self, keys: Iterable[str]) -> int:
        """``DeleteObjects``, 1,000 keys a request; a key S3 could not delete is a
        :class:`StorageError` naming it and S3's reason."""
        chosen = list(keys)
        names = [self._name(key) for key in chosen]
        for start in range(0, len(names), 1000):
            chunk = names[start : start + 1000]
            with self._translated("delete", chosen[start]):
                answer = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": name} for name in chunk], "Quiet": True},
                )
            failed = answer.get("Errors", [])
            if failed:
                first = failed[0]
                raise StorageError(
                    f"S3 could not delete {len(failed)} objects of s3://{self.bucket}, "
                    f"first {first.get('Key')}: {first.get('Code')}: {first.get('Message', '')}"
                )
        return len(names)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def key_of(self, url: str) -> str:
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        inside = parts.scheme == "s3" and parts.netloc == self.bucket
        if inside and self.prefix:
            inside = name.startswith(self.prefix + "/")
            name = name[len(self.prefix) + 1 :]
        if not inside:
            raise StorageError(f"{url} is not in the storage s3://{self.bucket}/{self.prefix}")
        return check_key(name)
