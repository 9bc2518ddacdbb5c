"""The built-in job type ``image`` (plugin ``builtin-image-jobs``), registered through
``register_job_types`` like any plugin's; an ``ingest`` queues it after staging listings
with new or changed images. Block this plugin to turn image processing off."""

from __future__ import annotations

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobs.images import IMAGE, image
from pipeline_core.jobtypes import JobType

IMAGE_JOB = JobType(
    IMAGE,
    image,
    "Fetch, check and convert a source's new or changed listing images into an optimised "
    "original and variants in storage (payload: source, refresh).",
)


@hookimpl
def register_job_types() -> list[JobType]:
    """The ``image`` job type."""
    return [IMAGE_JOB]
