"""Running claimed jobs in this process: handler calls and their outcomes, the
``job_failed`` hook, and the counts a worker keeps (:mod:`pipeline_core.queue.worker`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.exceptions import JobError, PermanentJobError, UnknownSourceError
from pipeline_core.jobtypes import JobContext, JobResult, JobType
from pipeline_core.queue.job import ClaimedJob, DeadLetter, FinishCounts, Outcome
from pipeline_core.queue.job_log import job_logging

if TYPE_CHECKING:
    from pipeline_core.plugins import PipelineManager

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """A lease owner unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def error_message(exc: BaseException) -> str:
    """``Type: message`` of a handler's exception. A database error gives the driver's
    message only: SQLAlchemy's text adds the SQL and its parameters, which may hold data
    that does not belong in ``last_error`` or in a notification."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        orig = exc.orig
        return f"{type(exc).__name__} ({type(orig).__name__}): {orig}".strip()
    return f"{type(exc).__name__}: {exc}"


def run_job(
    job: ClaimedJob,
    job_types: Mapping[str, JobType],
    engine: sa.Engine,
    settings: Settings,
    heartbeat: Callable[[], None] = lambda: None,
    cancelled: threading.Event | None = None,
) -> Outcome:
    """Run one claimed job's handler and return its outcome; never raises. ``cancelled``
    is the job's :attr:`JobContext.cancelled` event."""
    started = datetime.now(UTC)
    job_type = job_types.get(job.type)
    if job_type is None:
        known = ", ".join(sorted(job_types)) or "none"
        return Outcome(
            job,
            started,
            datetime.now(UTC),
            error=f"unknown job type {job.type!r}: no installed plugin registers it "
            f"(registered: {known}; see dmo-pipeline plugins)",
            permanent=True,
        )
    context = JobContext(
        job_id=job.id,
        type=job.type,
        attempt=job.attempt,
        correlation_id=job.correlation_id,
        dmo=job.dmo,
        worker=job.owner,
        settings=settings,
        engine=engine,
        heartbeat=heartbeat,
        cancelled=cancelled or threading.Event(),
    )
    try:
        source = job.payload.get("source") if isinstance(job.payload, dict) else None
        with job_logging(  # every line names the job
            job.id,
            job.correlation_id,
            attempt=job.attempt,
            job_type=job.type,
            source=source if isinstance(source, str) else None,
            dmo=job.dmo,
        ):
            result = job_type.handler(job.payload, context)
    except (Exception, SystemExit) as exc:  # sys.exit() in a handler fails the job only
        named = exc if isinstance(exc, JobError) else None
        return Outcome(
            job,
            started,
            datetime.now(UTC),
            error=error_message(exc),
            traceback=traceback.format_exc(),
            source=(named.source if named else None) or context.source,
            external_id=named.external_id if named else None,
            field=named.field if named else None,
            # A job that can never work is dead-lettered at once, not retried.
            permanent=isinstance(exc, PermanentJobError | UnknownSourceError),
        )
    finished = datetime.now(UTC)
    try:
        if isinstance(result, JobResult):
            outcome = Outcome(job, started, finished, dict(result.stats), list(result.next_jobs))
        else:
            outcome = Outcome(job, started, finished, dict(result or {}))
    except (TypeError, ValueError) as exc:
        return Outcome(
            job,
            started,
            finished,
            error=f"job {job.id} ({job.type}) returned {type(result).__name__}, not stats "
            f"(a dict) or a JobResult: {exc}",
        )
    problem = unstorable(outcome)
    if problem is not None:
        return Outcome(
            job,
            started,
            finished,
            error=f"job {job.id} ({job.type}) returned a result that cannot be stored as "
            f"JSON: {problem}; use str, int, float, bool, None, lists and dicts with str keys",
        )
    return outcome


def unstorable(outcome: Outcome) -> str | None:
    """Where a successful outcome's stats or next jobs' payloads cannot be stored in a JSON
    column (serialised with orjson, as the engine's JSON columns are): the path and the
    value (``stats.amount: Decimal('1.5')``), or None when everything can be."""
    problem = json_problem(outcome.stats, "stats")
    for index, nxt in enumerate(outcome.next_jobs):
        if problem is not None:
            break
        try:
            payload: Any = dict(nxt.payload)
        except (TypeError, ValueError):
            payload = nxt.payload
        problem = json_problem(payload, f"next_jobs[{index}].payload")
    return problem


def json_problem(value: Any, path: str) -> str | None:
    """The first value under ``value`` that orjson cannot serialise, as ``path: repr``."""
    try:
        orjson.dumps(value)
        return None
    except TypeError:  # orjson.JSONEncodeError
        pass
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} ({type(key).__name__}) is not a str"
            found = json_problem(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = json_problem(item, f"{path}[{index}]")
            if found is not None:
                return found
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:200] + "…"
    return f"{path}: {shown} ({type(value).__name__})"


def notify_dead(pm: PipelineManager, dead: Sequence[DeadLetter]) -> None:
    """Fire ``job_failed`` once per dead-lettered job; a plugin's exception is logged."""
    for letter in dead:
        try:
            pm.hook.job_failed(job=letter.job, error=letter.error, settings=pm.settings)
        except Exception:
            logger.exception("a job_failed hook raised for job %s", letter.job.get("id"))


def max_attempts_of(job_types: Mapping[str, JobType], job_type: str, settings: Settings) -> int:
    """Attempts a job of ``job_type`` gets: the type's ``max_attempts`` or
    ``PIPELINE_MAX_RETRIES``."""
    found = job_types.get(job_type)
    if found is not None and found.max_attempts is not None:
        return found.max_attempts
    return settings.max_retries


@dataclass
class BatchCounts:
    """What :func:`process_batch` (or a worker, over its life) did."""

    claimed: int = 0
    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    stale: int = 0
    released: int = 0
    rescued: int = 0
    next_jobs: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def add_finish(self, counts: FinishCounts) -> None:
        self.completed += counts.completed
        self.retried += counts.retried
        self.dead_lettered += counts.dead_lettered
        self.stale += counts.stale
        self.next_jobs += counts.next_jobs

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "completed": self.completed,
            "retried": self.retried,
            "dead_lettered": self.dead_lettered,
            "stale": self.stale,
            "released": self.released,
            "rescued": self.rescued,
            "next_jobs": self.next_jobs,
        }

    def summary(self) -> str:
        return (
            f"claimed {self.claimed}: completed {self.completed}, retried {self.retried}, "
            f"dead-lettered {self.dead_lettered}, stale {self.stale}, released "
            f"{self.released}; rescued {self.rescued} expired lease(s); "
            f"{self.next_jobs} next job(s) queued"
        )
