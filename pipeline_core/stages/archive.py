"""Archive mode: a crawl writes every raw record to a JSON Lines file instead of staging.

An :class:`ArchiveSession` stands in for the stage session during a ``scrape`` job's crawl.
It opens and closes the ``pipeline.crawls`` row, records page and record errors and
whether the crawl was complete exactly as a staging crawl does, and writes one line per
record::

    {"source": ..., "external_id": ..., "url": ..., "payload": {...}, "raw_hash": ...}

``external_id`` is the id under the mapping of the crawl's time (a transform computes it
again under the current mapping); ``raw_hash`` is the SHA-256 of the payload's canonical
JSON. Beside the file, ``<file>.summary.json`` says which crawl wrote it: written when the
crawl opens (``"state": "running"``) and again when it closes (``"state": "finished"``,
with the counts), so a crawl that dies leaves a summary that names its crawl row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import crawls
from pipeline_core.items import RawRecord
from pipeline_core.model import raw_hash
from pipeline_core.stages.crawl import CrawlRecord, start_crawl
from pipeline_core.stages.errors import ErrorSink

logger = logging.getLogger(__name__)


def mark_archived(conn: sa.Connection, crawl_id: int, url: str) -> None:
    """The archive of crawl ``crawl_id`` is stored at ``url``: the row becomes archived,
    and complete if the crawl was (its ``stats.complete``)."""
    stats = conn.execute(sa.select(crawls.c.stats).where(crawls.c.id == crawl_id)).scalar()
    stats = dict(stats or {})
    conn.execute(
        sa.update(crawls)
        .where(crawls.c.id == crawl_id)
        .values(
            complete=bool(stats.get("complete")),
            stats={**stats, "archived": True, "file": url},
        )
    )


def is_orphan(row: Mapping[str, Any], has_file: bool) -> bool:
    """A crawl row of an archive crawl that finished but whose file was never stored (its
    upload failed, its worker died first): it staged nothing and archived nothing."""
    stats = row.get("stats") or {}
    return (
        row.get("finished_at") is not None
        and isinstance(stats, Mapping)
        and stats.get("archived") is False
        and not has_file
    )


def summary_path(path: Path) -> Path:
    """Where the summary of the archive file ``path`` is written."""
    return path.with_name(path.name + ".summary.json")


class ArchiveSession:
    """One archive-mode crawl of one source into one JSON Lines file."""

    def __init__(
        self, engine: sa.Engine, source: str, dmo: str, fetcher: str, origin: str, path: Path
    ) -> None:
        self.engine = engine
        self.source = source
        self.dmo = dmo
        self.fetcher = fetcher
        self.origin = origin
        self.path = path
        self.stats: Counter[str] = Counter({"scraped": 0, "invalid": 0})
        #: Lines written to the file.
        self.archived = 0
        self.errors = ErrorSink(source)
        self.page_errors = 0
        #: Records a fetcher could not read or an item pipeline failed on.
        self.unreadable = 0
        self.cut_short: str | None = None
        self.crawl: CrawlRecord | None = None
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        """Open the crawl row and the file."""
        # start_crawl reads, then writes: on SQLite the write lock is taken first.
        with write_transaction(self.engine) as conn:
            self.crawl = start_crawl(conn, self.source, self.dmo, self.fetcher, self.origin)
        self.errors.crawl_id = self.crawl.id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._write_summary({"state": "running"})
        logger.info("%s: crawl %s archives raw records", self.source, self.crawl.id)

    def _write_summary(self, extra: dict[str, Any]) -> None:
        assert self.crawl is not None
        summary = {
            "crawl_id": self.crawl.id,
            "source": self.source,
            "started_at": self.crawl.started_at.isoformat(),
            **extra,
        }
        temporary = self.path.with_name(self.path.name + ".summary.part")
        temporary.write_bytes(orjson.dumps(summary))
        temporary.replace(summary_path(self.path))

    # The fetcher and Scrapy's error signals call these as they call a stage session's
    # (pipeline_core.scrapy.reporting.CrawlSession).
    def raw_hash(self, payload: Any) -> str | None:
        """SHA-256 of the payload as fetched (not salted: no mapping is involved yet)."""
        return raw_hash(payload, b"")

    def skip_unchanged_raw(self, external_id: str | None, raw: str | None) -> bool:
        """Never: the archive holds every record."""
        return False

    def page_error(self, message: str, url: str) -> None:
        """A page could not be fetched or parsed: recorded; the crawl is not complete."""
        self.page_errors += 1
        self.errors.add("fetch", message, url=url)

    def record_error(
        self,
        message: str,
        url: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        """A fetcher could not read one record (stage ``fetch``): counted scraped and
        invalid, not archived. ``external_id`` (the id as far as the record could be read)
        names it in the error row; as that may be wrong, the crawl is not complete, so its
        ingest withdraws nothing."""
        self.stats["scraped"] += 1
        self.stats["invalid"] += 1
        self.unreadable += 1
        self.errors.add(
            "fetch", message, external_id=external_id, field=field, value=value, url=url
        )

    def item_error(self, message: str, url: str, *, external_id: str | None = None) -> None:
        """An item pipeline raised on one record (stage ``pipeline``): counted invalid; the
        record may be missing from the file, so the crawl is not complete."""
        self.stats["invalid"] += 1
        self.unreadable += 1
        self.errors.add("pipeline", message, external_id=external_id, url=url)

    def mark_cut_short(self, reason: str) -> None:
        """The crawl stops before the source's end: not complete."""
        self.cut_short = reason
        logger.info("%s: crawl cut short: %s", self.source, reason)

    def archive(self, record: RawRecord) -> None:
        """Append one raw record to the file."""
        assert self._file is not None, "archive() before open()"
        line = {
            "source": record.source,
            "external_id": record.external_id,
            "url": record.url,
            "payload": record.payload,
            "raw_hash": record.raw_hash or raw_hash(record.payload, b""),
        }
        self._file.write(orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS))
        self._file.write(b"\n")
        self.stats["scraped"] += 1
        self.archived += 1

    def close(self, finish_reason: str = "finished") -> dict[str, Any]:
        """Close the file, the crawl row (with page and record errors) and the summary."""
        if self._file is not None:
            self._file.close()
            self._file = None
        complete = (
            finish_reason == "finished"
            and self.page_errors == 0
            and self.unreadable == 0
            and not self.cut_short
        )
        stats: dict[str, Any] = {
            "scraped": self.stats["scraped"],
            "invalid": self.stats["invalid"],
            "page_errors": self.page_errors,
            "errors": self.errors.count,
            "finish_reason": finish_reason,
            "complete": complete,
            "archived": True,
        }
        if self.cut_short:
            stats["cut_short"] = self.cut_short
        assert self.crawl is not None
        with self.engine.begin() as conn:
            self.errors.flush(conn)
            # The source's last-crawl times move when the ingest job stages the records.
            # The row is neither complete nor archived until its file is stored
            # (mark_archived): a crawl whose upload failed, or whose worker died before
            # it, must not pass for a complete one.
            conn.execute(
                sa.update(crawls)
                .where(crawls.c.id == self.crawl.id)
                .values(
                    finished_at=datetime.now(UTC),
                    finish_reason=finish_reason,
                    complete=False,
                    stats={**stats, "archived": False},
                )
            )
        self._write_summary({"state": "finished", **stats})
        logger.info(
            "%s: crawl %s archived %d records (%s, %s)",
            self.source,
            self.crawl.id,
            self.archived,
            finish_reason,
            "complete" if complete else "NOT complete",
        )
        return stats
