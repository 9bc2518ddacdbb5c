"""What every storage offers: :class:`Storage`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

#: Content type of JSON Lines files.
JSONL = "application/x-ndjson"


@dataclass(frozen=True)
class StoredObject:
    """One object a storage lists: its key, size in bytes and last modification (UTC)."""

    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    """Where raw and normalised files are kept: a local folder or an S3 bucket.

    Keys are checked with :func:`pipeline_core.storage.keys.check_key`; a key names the
    same object in every storage. URLs are what ``pipeline.files.url`` records.
    """

    def put_file(self, key: str, path: Path, content_type: str = JSONL) -> str:
        """Store the local file ``path`` under ``key`` (replacing it); return its URL."""
        ...

    def put_bytes(
        self, key: str, data: bytes, content_type: str = JSONL, cache_control: str | None = None
    ) -> str:
        """Store ``data`` under ``key`` (replacing it); return its URL. ``cache_control`` is
        the object's ``Cache-Control`` header where the storage serves one (S3)."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Open the object under ``key`` for reading, as a binary file."""
        ...

    def read(self, key: str) -> bytes:
        """The bytes stored under ``key``."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""
        ...

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with the folder ``prefix`` (``images``), in no
        particular order."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the objects under ``keys`` (a missing one is no error); objects deleted."""
        ...

    def url(self, key: str) -> str:
        """The URL of ``key`` in this storage (``file:///…`` or ``s3://bucket/…``)."""
        ...

    def key_of(self, url: str) -> str:
        """The key of a URL of this storage; :class:`StorageError` for any other URL."""
        ...
