"""The built-in job types ``scrape``, ``transform`` and ``ingest`` (plugin
``builtin-pipeline-jobs``), registered through ``register_job_types`` like any plugin's.

Each handler names its successor: scrape → transform → ingest. The queue looks the next
type up by name, so a plugin can add types after ``ingest`` (images, promotion) or replace
one of these by blocking this plugin and registering its own under the same name.
"""

from __future__ import annotations

from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobs.checks import check_ingest, check_scrape, check_transform
from pipeline_core.jobs.ingest import ingest
from pipeline_core.jobs.scrape import scrape
from pipeline_core.jobs.transform import transform
from pipeline_core.jobtypes import JobType

JOB_TYPES = (
    JobType(
        "scrape",
        scrape,
        "Crawl a source in a child process and archive its raw records as JSON Lines "
        "(payload: source); next: transform.",
        check=check_scrape,
    ),
    JobType(
        "transform",
        transform,
        "Map, hash and validate an archived raw file with the source's current mapping into "
        "a normalised file (payload: file_id); next: ingest.",
        check=check_transform,
    ),
    JobType(
        "ingest",
        ingest,
        "Stage-write a normalised file in batches, withdrawing unseen listings after a "
        "complete crawl (payload: file_id).",
        check=check_ingest,
    ),
)


@hookimpl
def register_job_types() -> list[JobType]:
    """The built-in chain: scrape, transform, ingest."""
    return list(JOB_TYPES)
