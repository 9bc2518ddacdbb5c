"""Local folder storage: the embedded default (``PIPELINE_STORAGE_URL`` a path or file://)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pipeline_core.exceptions import StorageError
from pipeline_core.storage.base import JSONL, StoredObject
from pipeline_core.storage.keys import check_key


def path_of_file_url(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise StorageError(f"{url!r} is not a local file:// URL")
    return Path(url2pathname(parts.path))


class LocalStorage:
    """Files under one folder, written atomically (a temporary file renamed into place)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    @classmethod
    def from_url(cls, url: str) -> LocalStorage:
        return cls(path_of_file_url(url))

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"storage key {key!r} leaves the folder {self.root}")
        return path

    @contextmanager
    def _replacing(self, key: str) -> Iterator[tuple[Path, Path]]:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".part-", dir=target.parent)
        os.close(fd)
        temporary = Path(name)
        try:
            yield temporary, target
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path, content_type: str = JSONL) -> str:
        with self._replacing(key) as (temporary, target):
            shutil.copyfile(path, temporary)
        return target.as_uri()

    def put_bytes(
        self, key: str, data: bytes, content_type: str = JSONL, cache_control: str | None = None
    ) -> str:
        with self._replacing(key) as (temporary, target):
            temporary.write_bytes(data)
        return target.as_uri()

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise StorageError(f"no file {key!r} in {self.root}") from None
        with handle:
            yield handle

    def read(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[StoredObject]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            if path.name.startswith(".part-"):
                continue  # being written
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file():
                yield StoredObject(
                    path.relative_to(self.root).as_posix(),
                    info.st_size,
                    datetime.fromtimestamp(info.st_mtime, UTC),
                )

    def delete(self, keys: Iterable[str]) -> int:
        """Also removes the folders the deletions leave empty (up to the storage folder)."""
        deleted = 0
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            deleted += 1
            parent = path.parent
            while parent != self.root:
                try:
                    parent.rmdir()
                except OSError:  # not empty (or written to meanwhile)
                    break
                parent = parent.parent
        return deleted

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def key_of(self, url: str) -> str:
        parts = urlsplit(url)
        path = path_of_file_url(url).resolve() if parts.scheme == "file" else None
        if path is None or self.root not in path.parents:
            raise StorageError(f"{url} is not in the storage folder {self.root.as_uri()}")
        return check_key(path.relative_to(self.root).as_posix())
