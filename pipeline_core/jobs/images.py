"""The ``image`` job: fetch, check, convert and store a source's listing images.

Payload ``{"source": NAME}`` processes the source's ``pending`` image rows (what an
``ingest`` left new or replaced: a URL stored before is filled from ``pipeline.images``
without a download). ``{"source": NAME, "refresh": true}`` (``dmo-pipeline images``)
goes over every image row of the source's active listings and asks each server again with
a conditional request, so only changed images are downloaded. See
:mod:`pipeline_core.images.run`. A failed image is an error row of the source, listing and
URL; the job itself fails only when the database or the storage does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import sources
from pipeline_core.exceptions import JobError, StorageError
from pipeline_core.images.rows import has_pending
from pipeline_core.jobs.payload import payload_text
from pipeline_core.jobtypes import JobContext, JobResult, NextJob
from pipeline_core.storage import get_storage

#: The job type's name.
IMAGE = "image"


def image(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Process the images of ``payload["source"]`` (all of them with ``"refresh": true``)."""
    source = payload_text(payload, "source", IMAGE)
    refresh = payload.get("refresh", False)
    if not isinstance(refresh, bool):
        raise JobError(f"image job: payload 'refresh' is true or false, got {refresh!r}")
    context.source = source
    # Imported here: every process that loads the plugins (a crawl among them) imports this
    # module, and the image run imports Pillow (issue 16: a crawl's memory).
    from pipeline_core.images.run import ImageRun

    run = ImageRun(
        context.engine,
        context.settings,
        get_storage(context.settings),
        source,
        job_id=context.job_id,
        heartbeat=context.heartbeat,
        cancelled=context.cancelled,
    )
    try:
        stats = run.run(refresh=refresh)
    except StorageError as exc:
        raise JobError(f"image job of {source}: {exc}", source=source) from None
    return JobResult(dict(stats))


def images_after_ingest(conn: sa.Connection, source: str) -> list[NextJob]:
    """The ``image`` job an ``ingest`` of ``source`` queues when it left image rows to
    process (one queued job per source: its dedup key is ``image:<source>``)."""
    if not has_pending(conn, source):
        return []
    dmo = conn.execute(sa.select(sources.c.dmo).where(sources.c.name == source)).scalar()
    return [NextJob(IMAGE, {"source": source}, dmo=dmo, dedup_key=f"image:{source}")]
