"""Error rows of failed jobs: message, source and record from the payload, traceback digest."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from pipeline_core.db.tables import errors, fit_text
from pipeline_core.queue.job import ClaimedJob

_LINE = re.compile(r"line \d+")
#: Longest traceback kept in ``pipeline.errors.traceback``: its last characters (the
#: innermost frames and the error).
TRACEBACK_CHARS = 8000
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def traceback_digest(text: str) -> str:
    """SHA-256 of a traceback with line numbers and memory addresses normalised, so the
    same failure gives the same digest across code edits and processes."""
    normalised = _ADDRESS.sub("0x?", _LINE.sub("line ?", text))
    return hashlib.sha256(normalised.encode()).hexdigest()


def error_row(
    job: ClaimedJob,
    message: str,
    traceback: str | None,
    *,
    source: str | None = None,
    external_id: str | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """A ``pipeline.errors`` row (stage ``job``) for a failed attempt of ``job``.

    ``source``, ``external_id`` and ``field`` are the ones the failure names (the
    handler's, see :class:`~pipeline_core.queue.job.Outcome`); else ``source``,
    ``external_id`` and ``url`` come from the payload's ``source``, ``record`` (or
    ``external_id``) and ``url`` when it has them. ``source`` is empty when neither names
    one. Text from the payload is cut to its column's length, so an odd payload cannot stop
    its own error row (and with it the finishing or rescue of other jobs) from being written.
    """
    payload = job.payload if isinstance(job.payload, dict) else {}
    record = external_id or payload.get("record", payload.get("external_id"))
    return {
        "created_at": datetime.now(UTC),
        "source": fit_text(errors.c.source, source or str(payload.get("source") or "")),
        "external_id": None if record is None else str(record),
        "stage": "job",
        "field": field,
        "message": f"{job.type} job {job.id}, attempt {job.attempt} of {job.max_attempts}: "
        + message,
        "value": None,
        "url": payload.get("url") if isinstance(payload.get("url"), str) else None,
        "crawl_id": None,
        "job_id": job.id,
        "traceback_digest": traceback_digest(traceback) if traceback else None,
        "traceback": kept_traceback(traceback),
    }


def kept_traceback(text: str | None) -> str | None:
    """The traceback as ``pipeline.errors`` keeps it: at most :data:`TRACEBACK_CHARS`, the
    end kept (where the error is), marked when cut."""
    if not text:
        return None
    if len(text) <= TRACEBACK_CHARS:
        return text
    return "[... cut]\n" + text[-(TRACEBACK_CHARS - 10) :]
