"""File storage for the archive: a local folder (embedded default) or S3.

:func:`get_storage` picks one from ``PIPELINE_STORAGE_URL``: a folder path or ``file://``
URL gives :class:`LocalStorage`, ``s3://bucket/prefix`` gives :class:`S3Storage` (endpoint
from ``PIPELINE_S3_ENDPOINT_URL``). Both implement :class:`Storage`.
"""

from __future__ import annotations

from pipeline_core.config import Settings
from pipeline_core.storage.base import JSONL, Storage
from pipeline_core.storage.keys import archive_key, check_key
from pipeline_core.storage.local import LocalStorage
from pipeline_core.storage.s3 import S3Storage


def get_storage(settings: Settings) -> Storage:
    """The storage ``PIPELINE_STORAGE_URL`` names."""
    url = settings.storage_url
    if url.startswith("s3://"):
        return S3Storage.from_url(
            url, endpoint_url=settings.s3_endpoint_url, timeout=settings.aws_timeout
        )
    return LocalStorage.from_url(url)


__all__ = [
    "JSONL",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "archive_key",
    "check_key",
    "get_storage",
]
