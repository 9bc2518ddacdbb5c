"""Built-in job type ``noop``: does nothing and completes (health checks, benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobContext, JobType


def noop(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Complete at once; the stats say which attempt and worker ran it."""
    return {"attempt": context.attempt}


NOOP = JobType(
    "noop",
    noop,
    "Does nothing and completes: checks that workers run, and measures the queue itself.",
)


@hookimpl
def register_job_types() -> list[JobType]:
    return [NOOP]
