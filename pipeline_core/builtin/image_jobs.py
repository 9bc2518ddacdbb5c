"""The built-in job type ``image`` (plugin ``builtin-image-jobs``), registered through
``register_job_types`` like any plugin's; an ``ingest`` queues it after staging listings
with new or changed images. Block this plugin to turn image processing off.

After the images are processed, the quality scores of the source's listings with image rows
are stored again (``staging.listing_quality``): their ``images`` rule counts only stored
images, so a listing whose image failed loses those points, and one whose image was stored
earns them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobs.images import IMAGE, image
from pipeline_core.jobtypes import JobContext, JobResult, JobType
from pipeline_core.quality.store import score_listings


def image_then_rescore(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """The ``image`` job (:func:`pipeline_core.jobs.images.image`), then the new scores of
    the source's listings with images (stats ``rescored``: how many)."""
    result = image(payload, context)
    result.stats["rescored"] = score_listings(
        context.engine, source=payload["source"], with_images=True
    )
    return result


IMAGE_JOB = JobType(
    IMAGE,
    image_then_rescore,
    "Fetch, check and convert a source's new or changed listing images into an optimised "
    "original and variants in storage, then score its listings with images again "
    "(payload: source, refresh).",
)


@hookimpl
def register_job_types() -> list[JobType]:
    """The ``image`` job type."""
    return [IMAGE_JOB]
