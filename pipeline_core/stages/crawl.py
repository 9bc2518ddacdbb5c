"""Crawl bookkeeping: the crawl row, the source row, what is staged already, withdrawal.

:class:`KnownListings` are loaded once per crawl so unchanged records are recognised
by hash before anything is validated or written. A listing's "last seen" time is not
stored per row (that would rewrite every row on every crawl): an active listing was seen
by its source's last complete crawl, ``pipeline.sources.last_complete_crawl_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import crawls, fit_text, sources, staging


class KnownListings:
    """What staging holds for one source, kept small (a crawl of 100,000 listings keeps
    100,000 entries): per external id one bytes value, the record hash's 32-byte digest
    followed by the raw hash's (or nothing); withdrawn and duplicate listings are the
    exceptions, held as sets of ids.
    """

    def __init__(self) -> None:
        self.digests: dict[str, bytes] = {}
        self.inactive: set[str] = set()
        self.duplicates: set[str] = set()

    def __len__(self) -> int:
        return len(self.digests)

    def put(
        self,
        external_id: str,
        record_hash: str,
        raw_hash: str | None,
        active: bool = True,
        duplicate: bool = False,
    ) -> None:
        """Record what staging holds for ``external_id`` (hashes as hex text)."""
        digest = bytes.fromhex(record_hash)
        self.digests[external_id] = digest + bytes.fromhex(raw_hash) if raw_hash else digest
        if active:
            self.inactive.discard(external_id)
        else:
            self.inactive.add(external_id)
        if duplicate:
            self.duplicates.add(external_id)
        else:
            self.duplicates.discard(external_id)

    def same_record(self, external_id: str, record_hash: str) -> bool:
        """True when ``external_id`` is staged, active, with this record hash."""
        digest = self.digests.get(external_id)
        return (
            digest is not None
            and digest[:32] == bytes.fromhex(record_hash)
            and external_id not in self.inactive
        )

    def same_raw(self, external_id: str, raw_hash: str) -> bool:
        """True when ``external_id`` is staged, active, from this raw record."""
        digest = self.digests.get(external_id)
        return (
            digest is not None
            and len(digest) == 64
            and digest[32:] == bytes.fromhex(raw_hash)
            and external_id not in self.inactive
        )

    def active_ids(self) -> set[str]:
        """External ids of the active listings."""
        return self.digests.keys() - self.inactive

    def active_among(self, external_ids: Iterable[str]) -> set[str]:
        """Those of ``external_ids`` that are staged and active (without building the set of
        every active id, which for a large source costs megabytes at the crawl's end)."""
        digests, inactive = self.digests, self.inactive
        return {ext for ext in external_ids if ext in digests and ext not in inactive}


#: Rows of staging fetched at a time when a crawl loads what is staged (:func:`load_known`).
KNOWN_FETCH_ROWS = 5000


def load_known(conn: sa.Connection, source: str) -> KnownListings:
    """Every staged listing of ``source``, with its hashes and state.

    The rows are streamed (a server-side cursor on PostgreSQL), ``KNOWN_FETCH_ROWS`` at a
    time: fetched whole, 100,000 rows would sit in the driver's result buffer next to the
    entries made from them, about 20 MB more at the crawl's peak (issue 16)."""
    listings = staging["listings"]
    query = sa.select(
        listings.c.external_id,
        listings.c.record_hash,
        listings.c.status,
        listings.c.duplicate_of,
        listings.c.raw_hash,
    ).where(listings.c.source == source)
    known = KnownListings()
    streamed = query.execution_options(stream_results=True, yield_per=KNOWN_FETCH_ROWS)
    for ext, record, status, duplicate_of, raw in conn.execute(streamed):
        known.put(ext, record, raw, status == "active", duplicate_of is not None)
    return known


def load_repeating(conn: sa.Connection, source: str) -> set[str]:
    """External ids of ``source`` whose staged listing came from rows repeating its id
    (a warning on ``external_id``, see :mod:`pipeline_core.stages.repeats`)."""
    listings = staging["listings"]
    query = sa.select(listings.c.external_id, listings.c.warnings).where(
        listings.c.source == source, listings.c.warnings.is_not(None)
    )
    return {
        ext
        for ext, warnings in conn.execute(query)
        if any(w.get("field") == "external_id" for w in warnings or ())
    }


@dataclass
class CrawlRecord:
    """The ``pipeline.crawls`` row of a crawl in progress."""

    id: int
    source: str
    started_at: datetime


def start_crawl(
    conn: sa.Connection, source: str, dmo: str, fetcher: str, origin: str
) -> CrawlRecord:
    """Register the source (if new) and open a crawl row. ``fetcher`` and ``origin`` (a
    plugin's fetcher name, a mapping file's path) are cut to their columns: a deep folder
    must not stop every crawl of the source."""
    now = datetime.now(UTC)
    fetcher = fit_text(sources.c.fetcher, fetcher) or ""
    origin = fit_text(sources.c.origin, origin) or ""
    exists = conn.execute(sa.select(sources.c.name).where(sources.c.name == source)).first()
    if exists is None:
        conn.execute(
            sa.insert(sources).values(
                name=source, dmo=dmo, fetcher=fetcher, origin=origin, created_at=now
            )
        )
    else:
        conn.execute(
            sa.update(sources)
            .where(sources.c.name == source)
            .values(dmo=dmo, fetcher=fetcher, origin=origin)
        )
    crawl_id = conn.execute(
        sa.insert(crawls).values(source=source, started_at=now).returning(crawls.c.id)
    ).scalar_one()
    return CrawlRecord(crawl_id, source, now)


def withdraw(conn: sa.Connection, source: str, external_ids: Iterable[str]) -> int:
    """Mark listings of ``source`` withdrawn (never deleted); returns how many."""
    listings = staging["listings"]
    ids = sorted(external_ids)
    now = datetime.now(UTC)
    count = 0
    for start in range(0, len(ids), 1000):
        result = conn.execute(
            sa.update(listings)
            .where(
                listings.c.source == source,
                listings.c.status == "active",
                listings.c.external_id.in_(ids[start : start + 1000]),
            )
            .values(status="withdrawn", withdrawn_at=now, updated_at=now)
        )
        count += result.rowcount
    return count


def finish_crawl(
    conn: sa.Connection,
    crawl: CrawlRecord,
    finish_reason: str,
    complete: bool,
    stats: dict[str, Any],
    *,
    update_source: bool = True,
) -> None:
    """Close the crawl row and (unless ``update_source`` is false) move the source's
    last-crawl times."""
    now = datetime.now(UTC)
    conn.execute(
        sa.update(crawls)
        .where(crawls.c.id == crawl.id)
        .values(finished_at=now, finish_reason=finish_reason, complete=complete, stats=stats)
    )
    if update_source:
        mark_source_crawled(conn, crawl, complete, now)


def close_unfinished_crawl(conn: sa.Connection, crawl_id: int, finish_reason: str) -> bool:
    """Close a crawl row its crawl could not close (its process was stopped or died): not
    complete, with ``finish_reason`` (cut to 100 characters). Nothing is withdrawn and the
    source's last-crawl times stay. A row closed already is left as it is; returns whether
    this call closed it."""
    closed = conn.execute(
        sa.update(crawls)
        .where(crawls.c.id == crawl_id, crawls.c.finished_at.is_(None))
        .values(finished_at=datetime.now(UTC), finish_reason=finish_reason[:100], complete=False)
    )
    return bool(closed.rowcount)


def mark_source_crawled(
    conn: sa.Connection, crawl: CrawlRecord, complete: bool, when: datetime
) -> None:
    """Record on ``pipeline.sources`` that ``crawl`` was staged (and was complete)."""
    values: dict[str, Any] = {"last_crawl_id": crawl.id, "last_seen_at": when}
    if complete:
        values["last_complete_crawl_at"] = when
    conn.execute(sa.update(sources).where(sources.c.name == crawl.source).values(**values))
