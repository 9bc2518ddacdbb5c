"""A claimed job and the outcome of running it: what moves between the store and the worker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline_core.jobtypes import NextJob


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite gives naive UTC values back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker holds: its row as claimed, and the lease it holds it under.

    ``attempt`` is the row's ``attempts`` after the claim; with ``owner`` it guards every
    later update, so a worker whose lease was rescued can no longer finish the job.
    """

    id: int
    type: str
    payload: Mapping[str, Any]
    attempt: int
    max_attempts: int
    dmo: str | None
    correlation_id: str | None
    owner: str

    @classmethod
    def from_row(cls, row: Any, owner: str) -> ClaimedJob:
        return cls(
            id=row.id,
            type=row.type,
            payload=row.payload or {},
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            dmo=row.dmo,
            correlation_id=row.correlation_id,
            owner=owner,
        )

    def describe(self) -> dict[str, Any]:
        """The job as the ``job_failed`` hook receives it."""
        return {
            "id": self.id,
            "type": self.type,
            "payload": dict(self.payload),
            "attempts": self.attempt,
            "max_attempts": self.max_attempts,
            "dmo": self.dmo,
            "correlation_id": self.correlation_id,
        }


@dataclass
class Outcome:
    """How one attempt of a job ended: stats and next jobs, or an error."""

    job: ClaimedJob
    started_at: datetime
    finished_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)
    next_jobs: list[NextJob] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    #: No retry can help (an unknown job type): dead-letter at once.
    permanent: bool = False
    #: What the error row of a failed attempt names beyond the payload: the source the
    #: handler set on its context or named in its :class:`~pipeline_core.exceptions.JobError`,
    #: and the record and field the error names.
    source: str | None = None
    external_id: str | None = None
    field: str | None = None
    #: Seconds until the retry of a failed attempt (set when the finish queues it again).
    retry_in: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.finished_at - self.started_at).total_seconds() * 1000))


@dataclass(frozen=True)
class DeadLetter:
    """A job that failed for good, for the ``job_failed`` hook (fired after the commit)."""

    job: dict[str, Any]
    error: str


@dataclass
class FinishCounts:
    """What one finish (or rescue) did."""

    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    #: Outcomes dropped because the worker no longer held the job's lease.
    stale: int = 0
    next_jobs: int = 0
    dead: list[DeadLetter] = field(default_factory=list)

    def add(self, other: FinishCounts) -> None:
        self.completed += other.completed
        self.retried += other.retried
        self.dead_lettered += other.dead_lettered
        self.stale += other.stale
        self.next_jobs += other.next_jobs
        self.dead.extend(other.dead)
