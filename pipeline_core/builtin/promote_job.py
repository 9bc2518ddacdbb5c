"""The built-in job type ``promote`` (plugin ``builtin-promote-job``): promotes a DMO's
staging listings into production through the same service as ``dmo-pipeline promote``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobContext, JobType
from pipeline_core.promotion import promote as promote_service
from pipeline_core.quality.gate import QualityPolicy


def promote(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Promote one DMO (payload ``dmo``, else the job's DMO), optionally only ``source`` or
    staging ``ids``; the stats are the batch's id and counts."""
    dmo = payload.get("dmo") or context.dmo
    if not dmo:
        raise ValueError("a promote job needs a dmo (in its payload or as the job's DMO)")
    context.source = payload.get("source")
    report = promote_service(
        context.engine,
        str(dmo),
        source=payload.get("source"),
        ids=payload.get("ids"),
        dry_run=bool(payload.get("dry_run", False)),
        promoted_by=f"job {context.job_id}",
        quality=QualityPolicy.from_settings(context.settings),
    )
    stats: dict[str, Any] = {"batch": report.batch_id, **report.counts}
    if report.dry_run:
        stats["dry_run"] = True
    return stats


PROMOTE = JobType(
    "promote",
    promote,
    "Promote a DMO's valid staging listings into production as one batch "
    "(payload: dmo, optional source, ids and dry_run).",
    max_attempts=1,
)


@hookimpl
def register_job_types() -> list[JobType]:
    """The ``promote`` job type."""
    return [PROMOTE]
