"""What a log line belongs to: the correlation id of the request or job chain, and the job
id, attempt, job type, source and DMO of the job being run, kept in a context variable.

The API sets the correlation id of each request (its ``X-Correlation-ID`` or
``X-Request-ID`` header, else a new id); a job queued inside a request takes it
(:func:`current_correlation_id`), the jobs it queues next carry it on, and the worker sets
the fields of each job it runs. A scrape job's crawl child process gets them in the
environment (:data:`CONTEXT_ENV`) and adopts them (:func:`adopt_environment`), so JSON log
lines of the API, the worker and the crawl child of one chain carry the same id.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import orjson

#: Environment variable that carries the fields into a child process (a JSON object).
CONTEXT_ENV = "PIPELINE_LOG_CONTEXT"
#: Names of the fields, in the order a JSON log line shows them.
FIELDS = ("correlation_id", "job_id", "attempt", "job_type", "source", "dmo")
#: A correlation id a client may give: up to 100 letters, digits and ``._:-``.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

_NONE: Mapping[str, Any] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, Any]] = ContextVar("dmo_pipeline_log_fields", default=_NONE)


def current_fields() -> Mapping[str, Any]:
    """The fields set for this context (empty outside a request or job)."""
    return _FIELDS.get()


def current_correlation_id() -> str | None:
    """The correlation id of the request or job this code runs for, if any."""
    value = _FIELDS.get().get("correlation_id")
    return str(value) if value else None


@contextmanager
def log_fields(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values left out) to every line logged inside the block."""
    merged = dict(_FIELDS.get())
    merged.update({k: v for k, v in fields.items() if k in FIELDS and v is not None})
    token = _FIELDS.set(merged)
    try:
        yield
    finally:
        _FIELDS.reset(token)


def correlation_of(headers: Mapping[str, str]) -> str:
    """The correlation id of a request: its ``X-Correlation-ID`` (or ``X-Request-ID``) when
    it is a short token, else a new one (so a client cannot inject text into the logs)."""
    for name in ("x-correlation-id", "x-request-id"):
        given = headers.get(name, "").strip()
        if _CLIENT_ID.fullmatch(given):
            return given
    return uuid.uuid4().hex


def context_environment() -> dict[str, str]:
    """The environment entry that hands this context's fields to a child process."""
    fields = _FIELDS.get()
    return {CONTEXT_ENV: orjson.dumps(dict(fields)).decode()} if fields else {}


def adopt_environment(environ: Mapping[str, str] | None = None) -> None:
    """Take the fields a parent process handed over (:func:`context_environment`) as this
    process's own (a crawl child's lines then carry its job's correlation id)."""
    text = (os.environ if environ is None else environ).get(CONTEXT_ENV)
    if not text:
        return
    try:
        given = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    if isinstance(given, dict):
        _FIELDS.set({k: v for k, v in given.items() if k in FIELDS and v is not None})
