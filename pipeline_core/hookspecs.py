"""The hooks of dmo-pipeline: the contract between the engine and every plugin.

Built-in fetchers, transforms and sources are plugins of these same hooks. A plugin is a
module or object with functions decorated ``@hookimpl`` whose names are hook names below;
it enters through the ``dmo_pipeline`` entry-point group::

    [project.entry-points.dmo_pipeline]
    my_plugin = "my_package.plugin"

A hook implementation takes only the arguments it needs, so hooks can grow new arguments
without breaking plugins. ``register_*`` hooks return lists. The docstring of each hook
is its reference documentation (``docs/reference/hooks.md`` is checked against it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pipeline_core.config import Settings
    from pipeline_core.jobtypes import JobType
    from pipeline_core.sources import BrokenSource, Source
    from pipeline_core.transforms import Transform

PROJECT = "dmo_pipeline"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorator for hook implementations in plugins: ``@hookimpl def register_sources(): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_sources(settings: Settings) -> list[Source | BrokenSource]:
    """Return the sources this plugin provides.

    Each is a :class:`pipeline_core.sources.Source`, usually built from a mapping file
    with ``Source.from_mapping_file(path)``, or from a spider class with
    ``Source.from_spider(SpiderClass, mapping_path)``. Source names are unique across all
    plugins; two plugins registering one name is an error naming both. A definition that
    failed its checks may be returned as a :class:`pipeline_core.sources.BrokenSource`
    (name, origin, error): it is left out, and only a crawl of that source fails.
    """


@hookspec
def register_fetchers() -> list[type]:
    """Return fetcher spider classes: generic spiders a mapping names in ``fetcher:``.

    Each class subclasses :class:`pipeline_core.scrapy.fetcher.FetcherSpider` and sets
    ``fetcher_name`` (built in: ``json_api``, ``xml_feed``, ``csv_feed``, ``html``,
    ``jsonld``) and ``fetcher_help``, and may declare ``options_schema``,
    ``pagination_types`` and ``required_keys``, checked when sources load. The spider is
    built from a source's mapping and yields :class:`pipeline_core.items.RawRecord` items.
    """


@hookspec
def register_transforms() -> list[Transform]:
    """Return :class:`pipeline_core.transforms.Transform` objects that mappings can name.

    A transform is ``func(value, **args)``, optionally with a ``context`` parameter
    receiving the source's :class:`~pipeline_core.transforms.TransformContext`. It raises
    ``ValueError`` (or ``TransformError``) with a short reason when a value cannot be
    converted. Names are unique across plugins.
    """


@hookspec
def register_job_types() -> list[JobType]:
    """Return :class:`pipeline_core.jobtypes.JobType` objects the queue can run.

    A job type has a name, a handler ``handler(payload, context)`` and help. The handler
    returns a dict of stats, or a :class:`pipeline_core.jobtypes.JobResult` with stats and
    the jobs to enqueue next; they are enqueued in the same transaction that marks the
    job completed. Built-in job types (``scrape``, ``transform``, ``ingest``) register
    through this hook too.
    """


@hookspec
def records_staged(source: str, records: list[dict[str, Any]], crawl_id: int | None) -> None:
    """Called after a batch of records was written to staging (inserted or updated).

    ``records`` holds, for each written listing, ``{"id", "external_id", "record_hash",
    "action": "inserted"|"updated", "record"}``. Unchanged records are not passed. It runs
    inside the crawl's process, after the batch's transaction committed; keep it fast.
    """


@hookspec
def crawl_finished(source: str, stats: dict[str, Any], crawl_id: int | None) -> None:
    """Called once when a crawl of ``source`` ends, with its final counts.

    ``stats`` has ``scraped``, ``inserted``, ``updated``, ``unchanged``, ``invalid``,
    ``duplicates``, ``withdrawn``, ``rows_written`` (staging rows written), ``errors``
    (rows added to ``pipeline.errors``), ``finish_reason`` and ``complete`` (True when every
    page was fetched and nothing cut the crawl short, so listings not seen were withdrawn).
    """


@hookspec
def job_failed(job: dict[str, Any], error: str, settings: Settings) -> None:
    """Called once when a job fails for good: it was dead-lettered after its last attempt.

    ``job`` holds ``id``, ``type``, ``payload``, ``attempts``, ``max_attempts``, ``dmo`` and
    ``correlation_id``; ``error`` is the last attempt's error message (no traceback, no
    secrets); ``settings`` are the worker's settings. It runs in the worker that
    dead-lettered the job, after the transaction committed; an exception it raises is
    logged and does not stop the worker. The built-in log notifier and webhook notifier
    implement it.
    """
