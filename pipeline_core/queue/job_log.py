"""Log lines that name their job: while a handler runs, every line written in its thread
(and in threads it starts with the context copied, like the scrape's relay of its crawl's
output) carries ``job ID (correlation C): `` after the logger's name."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_TAG: ContextVar[str] = ContextVar("dmo_pipeline_job_tag", default="")


@contextmanager
def job_logging(job_id: int, correlation_id: str | None) -> Iterator[None]:
    """Tag the lines logged inside the block with the job and its correlation id."""
    token = _TAG.set(f"job {job_id} (correlation {correlation_id or '-'}): ")
    try:
        yield
    finally:
        _TAG.reset(token)


class JobTagFilter(logging.Filter):
    """Sets ``record.job_tag`` (empty outside a job) for the ``%(job_tag)s`` field."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_tag = _TAG.get()
        return True
