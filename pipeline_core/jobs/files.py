"""Archived files: their ``pipeline.files`` rows, digests, and the crawl they came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import crawls, errors, files
from pipeline_core.exceptions import JobError, PermanentJobError
from pipeline_core.stages.crawl import CrawlRecord
from pipeline_core.storage import JSONL


@dataclass(frozen=True)
class ArchivedFile:
    """One ``pipeline.files`` row."""

    id: int
    kind: str
    source: str
    url: str
    size: int
    sha256: str
    record_count: int
    content_type: str
    crawl_id: int | None
    job_id: int | None


@dataclass(frozen=True)
class Digest:
    """Size, SHA-256 and line count of a local file."""

    size: int
    sha256: str
    lines: int


def digest_file(path: Path) -> Digest:
    """Read ``path`` once: its size, SHA-256 (hex) and number of lines."""
    digest = hashlib.sha256()
    size = lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return Digest(size, digest.hexdigest(), lines)


def load_file(conn: sa.Connection, file_id: int, kind: str, job_type: str) -> ArchivedFile:
    """The files row ``file_id``, which must be of ``kind``."""
    row = conn.execute(sa.select(files).where(files.c.id == file_id)).mappings().first()
    if row is None:
        raise PermanentJobError(f"{job_type} job: there is no file {file_id} in pipeline.files")
    if row["kind"] != kind:
        raise PermanentJobError(
            f"{job_type} job: file {file_id} ({row['source']}) is a {row['kind']} file, "
            f"not a {kind} one",
            source=row["source"],
        )
    return ArchivedFile(**{k: row[k] for k in ArchivedFile.__dataclass_fields__})


def record_file(
    conn: sa.Connection,
    *,
    kind: str,
    source: str,
    url: str,
    digest: Digest,
    crawl_id: int | None,
    job_id: int | None,
    content_type: str = JSONL,
) -> int:
    """Insert the files row of a stored file, or update the row that already names ``url``
    (the same job's earlier attempt); return its id."""
    values: dict[str, Any] = {
        "kind": kind,
        "source": source,
        "url": url,
        "size": digest.size,
        "sha256": digest.sha256,
        "record_count": digest.lines,
        "content_type": content_type,
        "crawl_id": crawl_id,
        "job_id": job_id,
    }
    existing = conn.execute(sa.select(files.c.id).where(files.c.url == url)).scalar()
    if existing is not None:
        conn.execute(sa.update(files).where(files.c.id == existing).values(**values))
        return int(existing)
    return int(conn.execute(sa.insert(files).values(**values).returning(files.c.id)).scalar_one())


def as_utc(value: datetime) -> datetime:
    """A timestamp read back from the database, as an aware UTC time (SQLite loses it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_crawl(conn: sa.Connection, crawl_id: int | None, job_type: str) -> dict[str, Any]:
    """The ``pipeline.crawls`` row of a file's crawl."""
    row = None
    if crawl_id is not None:
        row = conn.execute(sa.select(crawls).where(crawls.c.id == crawl_id)).mappings().first()
    if row is None:
        raise JobError(f"{job_type} job: crawl {crawl_id} is not in pipeline.crawls")
    return dict(row)


def crawl_record(row: dict[str, Any]) -> CrawlRecord:
    """The crawl row as the stage session's :class:`CrawlRecord`."""
    return CrawlRecord(row["id"], row["source"], as_utc(row["started_at"]))


def count_errors(conn: sa.Connection, crawl_id: int, job_ids: list[int | None]) -> int:
    """Error rows of ``crawl_id`` written by the jobs ``job_ids``."""
    wanted = [job for job in job_ids if job is not None]
    if not wanted:
        return 0
    query = sa.select(sa.func.count()).where(
        errors.c.crawl_id == crawl_id, errors.c.job_id.in_(wanted)
    )
    return int(conn.execute(query).scalar_one())
