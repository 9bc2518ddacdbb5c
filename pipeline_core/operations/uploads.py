"""Uploaded feed files: checked by their bytes, stored with their SHA-256, and queued.

Behind ``POST /api/v1/pipeline/files``. The file is first written to a temporary file
(streamed, within ``PIPELINE_API_MAX_UPLOAD``), then checked against its source's
``options.format`` by its bytes (not its name, which must only agree); a file refused
leaves nothing behind. A file accepted is put in storage (kind ``upload``), recorded in
``pipeline.files`` and a ``read_upload`` job is queued for the source's DMO: read →
``transform`` → ``ingest``.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import orjson
import sqlalchemy as sa

from pipeline_core.db.engine import write_transaction
from pipeline_core.exceptions import PipelineError
from pipeline_core.jobs.files import Digest, record_file
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.sources import Source
from pipeline_core.storage import archive_key, get_storage

if TYPE_CHECKING:
    from pipeline_core.plugins import PipelineManager

#: Bytes looked at to tell what a file is.
SNIFF = 64 * 1024
#: Name endings each format accepts.
ENDINGS = {
    "csv": (".csv", ".tsv", ".txt"),
    "xml": (".xml",),
    "json": (".json",),
    "jsonl": (".jsonl", ".ndjson"),
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "xml": "application/xml",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}
#: Starts of binary files people send by mistake (zip/xlsx, gzip, pdf, png, jpeg, gif, ole).
_BINARY = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\xd0\xcf\x11\xe0",
)


class UploadRefused(PipelineError):
    """An upload that is not what its source takes: names the source, file and problem."""


class StreamDigest:
    """Size and SHA-256 of bytes as they are written, and their first :data:`SNIFF` bytes."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.head = b""

    def update(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.size += len(chunk)
        self.lines += chunk.count(b"\n")
        if len(self.head) < SNIFF:
            self.head += chunk[: SNIFF - len(self.head)]

    def digest(self) -> Digest:
        return Digest(self.size, self.sha.hexdigest(), self.lines)


def sniff(head: bytes) -> str:
    """What the first bytes of a file are: ``binary``, ``xml``, ``json``, ``jsonl`` or
    ``csv`` (text that is none of the others)."""
    if not head:
        return "empty"
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if head.startswith(_BINARY) or (not utf16 and b"\x00" in head[:4096]):
        return "binary"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first, _, rest = text.partition(b"\n")
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            return "json"
        return "jsonl" if rest.strip() else "json"
    return "csv"


def check_upload(source: Source, filename: str | None, head: bytes, path: Path) -> str:
    """The format of an upload for ``source``; :class:`UploadRefused` when its bytes (or its
    name) say it is something else."""
    fmt = source.mapping.doc.get("options", {}).get("format")
    where = f"upload for source {source.name}"
    if source.fetcher != "upload" or fmt not in ENDINGS:
        raise UploadRefused(f"{where}: the source is not fed by uploads (fetcher upload)")
    if filename:
        ending = PurePosixPath(filename).suffix.lower()
        if ending and ending not in ENDINGS[fmt]:
            raise UploadRefused(
                f"{where}: the file {filename!r} is named as {ending} but the source takes "
                f"{fmt} ({', '.join(ENDINGS[fmt])})"
            )
    found = sniff(head)
    same = (
        found == fmt
        or (fmt == "json" and found == "jsonl")
        or (fmt == "jsonl" and found == "json" and head.lstrip().startswith(b"{"))
    )
    if not same:
        named = f"the file {filename!r}" if filename else "the file"
        raise UploadRefused(f"{where}: {named} is not {fmt}: its bytes are {found}")
    if fmt == "json":
        try:
            orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise UploadRefused(f"{where}: the file is not valid JSON: {exc}") from None
    return str(fmt)


@dataclass(frozen=True)
class Stored:
    file_id: int
    job_id: int
    url: str


def store_upload(
    engine: sa.Engine,
    pm: PipelineManager,
    source: Source,
    path: Path,
    digest: Digest,
    fmt: str,
    filename: str | None,
) -> Stored:
    """Put the checked file in storage, record it and queue its ``read_upload`` job."""
    storage = get_storage(pm.settings)
    now = datetime.now(UTC)
    name = f"{now:%H%M%S%f}-{digest.sha256[:16]}{ENDINGS[fmt][0]}"
    url = storage.put_file(
        archive_key("upload", source.name, now.date(), name), path, CONTENT_TYPES[fmt]
    )
    from pipeline_core.queue.runner import max_attempts_of

    with write_transaction(engine) as conn:
        file_id = record_file(
            conn,
            kind="upload",
            source=source.name,
            url=url,
            digest=digest,
            crawl_id=None,
            job_id=None,
            content_type=CONTENT_TYPES[fmt],
        )
        job_id = enqueue(
            conn,
            "read_upload",
            {"file_id": file_id, "source": source.name, "filename": filename or ""},
            settings=pm.settings,
            dmo=source.dmo,
            max_attempts=max_attempts_of(pm.job_types(), "read_upload", pm.settings),
        )
    assert job_id is not None
    return Stored(file_id, job_id, url)
