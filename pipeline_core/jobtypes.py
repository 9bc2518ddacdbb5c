"""Job types: what the queue can run, registered through ``register_job_types``.

A handler is called as ``handler(payload, context)`` with the job's JSON payload and a
:class:`JobContext`. It returns a dict of stats, ``None``, or a :class:`JobResult` whose
``next_jobs`` are enqueued in the same transaction that marks the job completed, so a
chain (scrape → transform → ingest) never loses or doubles a step. Raising fails the
attempt; the queue retries it with backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from pipeline_core.config import Settings


@dataclass(frozen=True)
class NextJob:
    """A job to enqueue when the current one completes."""

    type: str
    payload: Mapping[str, Any]
    dmo: str | None = None
    dedup_key: str | None = None
    priority: int = 0


@dataclass
class JobResult:
    """What a handler returns: its stats and the jobs that follow it."""

    stats: dict[str, Any] = field(default_factory=dict)
    next_jobs: list[NextJob] = field(default_factory=list)


@dataclass
class JobContext:
    """What a handler gets besides its payload."""

    job_id: int
    type: str
    attempt: int
    correlation_id: str | None
    dmo: str | None
    worker: str
    settings: Settings
    engine: sa.Engine
    #: Extends the job's lease; long handlers call it now and then (the worker also
    #: heartbeats on its own while the handler runs). Raises
    #: :class:`~pipeline_core.exceptions.LeaseLost` once the worker no longer holds the job
    #: (its lease expired and it was rescued): the handler should stop.
    heartbeat: Callable[[], None] = lambda: None
    #: Set when the worker gives up on this job (its shutdown grace period is over): a
    #: handler that waits on something, such as a child process, stops it and raises; the
    #: worker then releases the job. A handler that ignores it ends with the process.
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: The source the job works on, for the ``pipeline.errors`` row of a failed attempt: a
    #: handler whose payload does not name it sets it as soon as it knows it (the built-in
    #: ``transform`` and ``ingest`` set their file's source).
    source: str | None = None


JobHandler = Callable[[Mapping[str, Any], JobContext], "JobResult | Mapping[str, Any] | None"]
#: ``check(payload, conn, settings)`` raises
#: :class:`~pipeline_core.exceptions.PermanentJobError` for a payload that can never work.
#: A check that also takes a keyword argument ``sources`` gets the registered sources by
#: name from its caller (the API's, built once), instead of building a plugin manager.
PayloadCheck = Callable[..., None]


@dataclass(frozen=True)
class JobType:
    """A named job handler. ``handler(payload, context)`` returns stats or a JobResult.

    ``max_attempts`` overrides ``PIPELINE_MAX_RETRIES`` for this type when set. ``check``,
    when set, is run on the payload when a job is queued from outside (``queue add``, the
    API): a payload that can never work is refused there, not retried.
    """

    name: str
    handler: JobHandler
    help: str
    max_attempts: int | None = None
    check: PayloadCheck | None = None
