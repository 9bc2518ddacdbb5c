"""Record and page errors, buffered and written to ``pipeline.errors`` with each batch.

Each error row is in ``pipeline.errors``; the log shows the first few of each kind (stage
and field) at WARNING and counts the rest, as Scrapy counts dropped items: a feed with a
warning on every record costs no log record per record (:meth:`ErrorSink.log_summary` says
how many of each kind there were). With a handler at DEBUG every one is logged, at DEBUG.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import errors as errors_table
from pipeline_core.masking import excerpt, mask_text

logger = logging.getLogger(__name__)

#: Errors of one kind (stage and field) logged at WARNING; further ones are only counted.
SHOWN_PER_KIND = 5


def logs_debug(log: logging.Logger) -> bool:
    """Whether a DEBUG record of ``log`` would be written by some handler. (Scrapy leaves
    the root logger at NOTSET and filters in its handler, so ``isEnabledFor`` alone says
    yes to everything.)"""
    if not log.isEnabledFor(logging.DEBUG):
        return False
    current: logging.Logger | None = log
    while current is not None:
        if any(handler.level <= logging.DEBUG for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


class ErrorSink:
    """Collects error rows of one crawl or job; :meth:`flush` writes them in one statement."""

    def __init__(self, source: str, crawl_id: int | None = None, job_id: int | None = None) -> None:
        self.source = source
        self.crawl_id = crawl_id
        self.job_id = job_id
        self.pending: list[dict[str, Any]] = []
        self.count = 0
        #: Errors so far by kind: (stage, field or stage).
        self.kinds: Counter[tuple[str, str]] = Counter()
        self._debug = logs_debug(logger)

    def add(
        self,
        stage: str,
        message: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
        url: str | None = None,
    ) -> None:
        """Record one error; it is written at the next flush, and logged at once if it is
        one of the first :data:`SHOWN_PER_KIND` of its kind (else counted).

        A NUL character in the id, field, message or URL is written as ``\\x00`` (the
        database cannot store it, and the error row must not fail its batch). The message is
        masked and the value kept as a bounded, masked excerpt
        (:func:`pipeline_core.masking.excerpt`): a value read from a file or a page may hold
        secrets.
        """
        self.count += 1
        message = mask_text(message).replace("\x00", "\\x00")
        external_id, field, url = (
            None if text is None else text.replace("\x00", "\\x00")
            for text in (external_id, field, url)
        )
        kind = (stage, field or stage)
        self.kinds[kind] += 1
        seen = self.kinds[kind]
        if seen <= SHOWN_PER_KIND:
            logger.warning(
                "%s record %s: %s: %s%s",
                self.source,
                external_id or "?",
                field or stage,
                message,
                f" (the first {SHOWN_PER_KIND} errors of {stage} {field or stage} are "
                "logged, further ones counted)"
                if seen == SHOWN_PER_KIND
                else "",
            )
        elif self._debug:
            logger.debug(
                "%s record %s: %s: %s", self.source, external_id or "?", field or stage, message
            )
        self.pending.append(
            {
                "created_at": datetime.now(UTC),
                "source": self.source,
                "external_id": external_id,
                "stage": stage,
                "field": field,
                "message": message,
                "value": None if value is None else excerpt(value),
                "url": url,
                "crawl_id": self.crawl_id,
                "job_id": self.job_id,
            }
        )

    def log_summary(self) -> None:
        """One line per kind with more errors than were logged: how many in all."""
        for (stage, field), count in sorted(self.kinds.items()):
            if count > SHOWN_PER_KIND:
                logger.warning(
                    "%s: %d errors of %s %s (%d logged; all in pipeline.errors)",
                    self.source,
                    count,
                    stage,
                    field,
                    SHOWN_PER_KIND,
                )

    def take(self) -> list[dict[str, Any]]:
        """Hand over the pending error rows (to write them elsewhere)."""
        rows, self.pending = self.pending, []
        return rows

    @staticmethod
    def write(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
        """Write error rows with ``conn`` (inside the caller's transaction)."""
        if rows:
            conn.execute(sa.insert(errors_table), rows)
        return len(rows)

    def flush(self, conn: sa.Connection) -> int:
        """Write pending errors with ``conn`` (inside the caller's transaction)."""
        return self.write(conn, self.take())
