"""Every error dmo-pipeline raises on purpose derives from :class:`PipelineError`.

Messages name the thing that is wrong (setting, file, source, record, field) and the fix.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of dmo-pipeline's own errors."""


class ConfigError(PipelineError):
    """A setting has a value that is not accepted."""


class PluginError(PipelineError):
    """A plugin failed to load, or implements a hook that does not exist."""


class MappingError(PipelineError):
    """A mapping document is not valid: names the file, the line or path, and the key.

    ``key`` (the dotted path of the key at fault), ``line`` and ``column`` (1-based, in the
    document's text) are set when known, for callers that show them apart (the API).
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.line = line
        self.column = column


class UnknownSourceError(PipelineError):
    """No registered source has the name asked for."""


class RecordError(PipelineError):
    """One record could not be mapped or validated.

    ``field`` is the canonical field path (``location.latitude``) or source path at fault;
    ``value`` the value there, when one is known (for ``pipeline.errors.value``).
    """

    def __init__(
        self,
        source: str,
        external_id: str | None,
        field: str,
        message: str,
        value: object = None,
    ) -> None:
        self.source = source
        self.external_id = external_id
        self.field = field
        self.message = message
        self.value = value
        super().__init__(f"{source} record {external_id or '?'}: {field}: {message}")


class TransformError(PipelineError):
    """A transform could not convert a value; the mapping stage adds source and record."""


class PartialTransformError(TransformError):
    """A transform could not convert a value but has something to keep instead.

    The field gets ``kept`` (for instance the opening hours as published, under
    ``opening_hours_text``), the record is staged, and the reason becomes an error row
    naming source, record and field: reported, never dropped.
    """

    def __init__(self, reason: str, kept: object) -> None:
        super().__init__(reason)
        self.kept = kept


class DroppedValueError(PartialTransformError):
    """A transform could not convert a value and the mapping said ``invalid: drop``: the
    field is left out (its ``default`` applies), the record is staged, and the reason
    becomes a warning row naming source, record, field and value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, None)


class PageError(PipelineError):
    """A page holds a value its mapping cannot use (a page count that is not a number): a
    page error of the crawl, naming the value; the crawl is not complete."""


class URLPolicyError(PipelineError):
    """A URL was refused by the fetch policy before any request was made."""


class UnresolvedHost(URLPolicyError):
    """A URL's host name did not resolve: no such name, no address, or the lookup failed or
    timed out."""


class StorageError(PipelineError):
    """A file could not be stored or read: names the key or URL and the storage."""


class ImageError(PipelineError):
    """One image could not be fetched, checked or converted: the reason, for its error row
    (the listing and its other images are not affected)."""


class JobError(PipelineError):
    """A job could not do its work: names the job type, its payload's subject and the cause.

    ``source``, ``external_id`` and ``field``, when given, name the source, record and
    field at fault in the ``pipeline.errors`` row of the failed attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        external_id: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.external_id = external_id
        self.field = field


class PermanentJobError(JobError):
    """A job that can never work as queued (no such source, no such file, a payload that
    lacks what its type needs): refused when it is queued, or, found when it runs,
    dead-lettered at once instead of retried."""


class JobCancelled(JobError):
    """The worker gave up on a running job (its shutdown grace period is over); the handler
    stopped its work and the worker releases the job."""


class QueueError(PipelineError):
    """A queue operation is not possible: names the job and why (e.g. retry of a job that
    did not fail)."""


class InvalidJobError(QueueError):
    """A job cannot be queued: names the option (``dmo``, ``priority``, ``payload``...) and
    why. The same checks run whatever the database, so SQLite and PostgreSQL refuse alike."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option
        self.problem = problem


class JobTimedOut(JobError):
    """Raised inside a job's handler (in a worker's main thread) when the job has run longer
    than its type's timeout (``PIPELINE_JOB_TIMEOUTS``) and did not stop on its
    cancellation; the attempt fails and is retried."""


class LeaseLost(PipelineError):
    """Raised by ``context.heartbeat()`` in a job's handler when the worker no longer holds
    the job: its lease expired and another worker rescued it (and may run it again). The
    handler should stop (let it propagate; clean up in ``finally``); its outcome would be
    dropped anyway."""


class PromotionError(PipelineError):
    """A promotion or rollback did not happen; production is as it was (the message says
    why, and names the batch when one was recorded)."""


class PromotionBusy(PromotionError):
    """Another promotion or rollback of the same DMO is running: try again when it is done."""


class RollbackRefused(PromotionError):
    """A batch cannot be rolled back (not completed, already rolled back, or later batches
    touched the same listings: they are named)."""
