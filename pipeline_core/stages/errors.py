"""Record and page errors, buffered and written to ``pipeline.errors`` with each batch."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import errors as errors_table
from pipeline_core.stages.error_value import masked, shown_value

logger = logging.getLogger(__name__)


class ErrorSink:
    """Collects error rows of one crawl or job; :meth:`flush` writes them in one statement."""

    def __init__(self, source: str, crawl_id: int | None = None, job_id: int | None = None) -> None:
        self.source = source
        self.crawl_id = crawl_id
        self.job_id = job_id
        self.pending: list[dict[str, Any]] = []
        self.count = 0

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
        """Record one error; it is logged at once and written at the next flush.

        A NUL character in the id, field, message or URL is written as ``\\x00`` (the
        database cannot store it, and the error row must not fail its batch). The value is
        shown bounded and masked, and so is the message
        (:mod:`pipeline_core.stages.error_value`).
        """
        self.count += 1
        message = masked(message.replace("\x00", "\\x00"))
        external_id, field, url = (
            None if text is None else text.replace("\x00", "\\x00")
            for text in (external_id, field, url)
        )
        logger.warning(
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
                "value": shown_value(value),
                "url": url,
                "crawl_id": self.crawl_id,
                "job_id": self.job_id,
            }
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
