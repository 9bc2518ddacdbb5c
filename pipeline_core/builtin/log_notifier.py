"""Built-in ``job_failed`` notifier: one ERROR log line per dead-lettered job."""

from __future__ import annotations

import logging
from typing import Any

from pipeline_core.hookspecs import hookimpl

logger = logging.getLogger("pipeline_core.notify")


@hookimpl
def job_failed(job: dict[str, Any], error: str) -> None:
    logger.error(
        "job %s (%s) failed for good after %s of %s attempts and was dead-lettered "
        "(dmo %s, correlation %s): %s",
        job["id"],
        job["type"],
        job["attempts"],
        job["max_attempts"],
        job.get("dmo") or "-",
        job.get("correlation_id") or "-",
        error,
    )
