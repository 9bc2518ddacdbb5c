"""Log lines that name their job: while a handler runs, every line written in its thread
(and in threads it starts with the context copied, like the scrape's relay of its crawl's
output) carries the job's id, attempt, type, source, DMO and correlation id
(:mod:`pipeline_core.log_context`): the text format shows ``job ID (correlation C): ``
after the logger's name, the JSON format each field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipeline_core.log_context import log_fields


@contextmanager
def job_logging(
    job_id: int,
    correlation_id: str | None,
    *,
    attempt: int | None = None,
    job_type: str | None = None,
    source: str | None = None,
    dmo: str | None = None,
) -> Iterator[None]:
    """Tag the lines logged inside the block with the job and its correlation id."""
    with log_fields(
        correlation_id=correlation_id,
        job_id=job_id,
        attempt=attempt,
        job_type=job_type,
        source=source,
        dmo=dmo,
    ):
        yield
