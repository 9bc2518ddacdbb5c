"""Item pipelines: thin Scrapy wrappers around one :class:`StageSession` per crawl.

Order (``ITEM_PIPELINES``): map 100, hash 200, validate 300, stage-write 400. Hashing comes
before validation so unchanged records skip validation and writing. A setting can reorder
or disable a stage with ``None``, as with any Scrapy pipeline.

Custom spiders that yield something other than :class:`RawRecord` pass through untouched.
In archive mode (``PIPELINE_ARCHIVE_PATH``, :mod:`pipeline_core.scrapy.archive`) every item
passes through them untouched.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from pipeline_core.items import ListingItem, RawRecord
from pipeline_core.scrapy.archive import archive_mode
from pipeline_core.scrapy.reporting import attach
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.stages.map_processes import MapProcesses
from pipeline_core.stages.session import STAT_KEYS, StageSession

logger = logging.getLogger(__name__)

#: Garbage-collector thresholds while a stage session runs in a crawl (Python's default is
#: 700, 10, 10): a crawl allocates a few hundred short-lived containers per record (Scrapy's
#: tasks and futures, the mapped record), and collecting every 700 of them, with the
#: interpreter's imports in the older generations, costs a quarter of the crawl's CPU.
CRAWL_GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> Callable[[], None]:
    """Freeze what exists now (imports, settings) out of the collector's sight and collect
    less often; returns the function that puts things back."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*CRAWL_GC_THRESHOLDS)

    def restore() -> None:
        gc.set_threshold(*previous)
        gc.unfreeze()

    return restore


def session_for(crawler: Crawler) -> StageSession | None:
    """The crawl's stage session, made (and opened) on first call; None without a mapping.

    Scrapy's ``spider_error`` and ``item_error`` signals are reported to it
    (:func:`pipeline_core.scrapy.reporting.attach`).
    """
    if archive_mode(crawler):  # the archive pipeline owns the crawl; items pass through
        return None
    session = getattr(crawler, "dmo_session", None)
    if session is not None or getattr(crawler, "dmo_session_checked", False):
        return session
    crawler.dmo_session_checked = True  # type: ignore[attr-defined]
    spider = crawler.spider
    runtime = get_runtime()
    if spider is None or spider.name not in runtime.sources:
        logger.info("spider %s has no mapping: items pass through", getattr(spider, "name", "?"))
        return None
    source = runtime.source(spider.name)
    runtime.ensure_database()
    early_skip = crawler.settings.getbool("PIPELINE_EARLY_SKIP") and not crawler.settings.get(
        "FEEDS"
    )
    session = StageSession(
        runtime.engine,
        runtime.compiled(spider.name),
        fetcher=source.fetcher,
        origin=source.origin,
        batch_size=crawler.settings.getint("PIPELINE_BATCH_SIZE", runtime.settings.batch_size),
        hook=runtime.pm.hook,
        raw_salt=runtime.mapping_fingerprint(spider.name) if early_skip else None,
        background="process",
        withdraw_limit=runtime.settings.withdraw_limit,
    )
    session.open()
    attach(crawler, session)
    restore_gc = tune_gc()

    def closed(spider: Spider, reason: str) -> None:
        try:
            stats = session.close(reason)
        finally:
            restore_gc()
        for key in STAT_KEYS:
            crawler.stats.set_value(f"dmo/{key}", stats[key])
        crawler.stats.set_value("dmo/errors", stats["errors"])
        crawler.stats.set_value("dmo/complete", stats["complete"])
        for (stage, field), count in session.errors.kinds.items():
            crawler.stats.set_value(f"dmo/error_kinds/{stage}/{field}", count)
        memo = session.memo_stats()
        crawler.stats.set_value("dmo/transform_cache/hits", memo.hits)
        crawler.stats.set_value("dmo/transform_cache/misses", memo.misses)
        crawler.stats.set_value("dmo/transform_cache/hit_rate", round(memo.hit_rate, 4))
        if session.map_processes is not None:
            peak = session.map_processes.peak_rss_kib
            crawler.stats.set_value("dmo/map_processes/peak_rss_kib", peak)

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)
    return session


class _StagePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.session: StageSession | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    def open_spider(self) -> None:
        self.session = session_for(self.crawler)


def _between_map_and_validate(crawler: Crawler) -> list[str]:
    """Item pipelines other than the hash stage ordered between the map and the validate
    stages (they could change a record after a map process hashed and validated it)."""
    pipelines = crawler.settings.getwithbase("ITEM_PIPELINES")
    names = {
        (name if isinstance(name, str) else f"{name.__module__}.{name.__qualname__}"): order
        for name, order in pipelines.items()
        if order is not None
    }
    here = __name__
    low = names.get(f"{here}.MapPipeline")
    high = names.get(f"{here}.ValidatePipeline")
    if low is None or high is None:
        return ["(the map or validate stage is not enabled)"]
    return [
        name
        for name, order in names.items()
        if low < order < high and name != f"{here}.HashPipeline"
    ]


def map_processes_for(crawler: Crawler, session: StageSession | None) -> MapProcesses | None:
    """The crawl's map processes (started with its first batch), or None: none wanted
    (``PIPELINE_MAP_PROCESSES`` 0), no mapping, or another item pipeline between the map and
    the validate stages (the records are then hashed and validated where they are)."""
    count = crawler.settings.getint("PIPELINE_MAP_PROCESSES", 0)
    if session is None or session.mapping is None or count < 1:
        return None
    others = _between_map_and_validate(crawler)
    if others:
        logger.info(
            "%s: records are mapped in the crawl's process: %s between map and validate",
            session.source,
            ", ".join(others),
        )
        return None
    processes = MapProcesses(
        session.mapping.doc,
        session.take_mapped,
        session.map,
        processes=count,
        gc_thresholds=CRAWL_GC_THRESHOLDS,
    )
    session.map_processes = processes
    return processes


class MapPipeline(_StagePipeline):
    """Map each :class:`RawRecord` onto the canonical model; a record error drops the item.

    Once it mapped ``PIPELINE_MAP_PROCESSES_AFTER`` records itself, the crawl's map
    processes map the rest (and hash and validate them), in batches, while the crawl goes
    on (:mod:`pipeline_core.stages.map_processes`)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.processes: MapProcesses | None = None
        self.after = crawler.settings.getint("PIPELINE_MAP_PROCESSES_AFTER", 0)
        #: Records mapped in the crawl's thread (records skipped as unchanged before they
        #: became items do not count).
        self.mapped = 0

    def open_spider(self) -> None:
        super().open_spider()
        self.processes = map_processes_for(self.crawler, self.session)

    async def process_item(self, item: Any) -> Any:
        session = self.session
        if session is None or not isinstance(item, RawRecord):
            return item
        processes = self.processes
        if processes is not None and self.mapped >= self.after:
            listing = await processes.map(item)  # from here on every record, in order
        else:
            self.mapped += 1
            listing = session.map(item)
        if listing is None:
            raise DropItem(f"{item.source} record {item.external_id or '?'} could not be mapped")
        return listing

    def close_spider(self) -> None:
        if self.processes is not None:
            self.processes.close()


class HashPipeline(_StagePipeline):
    """Hash the mapped record and mark it ``changed`` or ``unchanged``."""

    def process_item(self, item: Any) -> Any:
        if self.session is None or not isinstance(item, ListingItem):
            return item
        return self.session.hash(item)


class ValidatePipeline(_StagePipeline):
    """Validate changed records against the canonical JSON Schema; invalid ones are dropped."""

    def process_item(self, item: Any) -> Any:
        if self.session is None or not isinstance(item, ListingItem):
            return item
        if not self.session.validate(item):
            raise DropItem(f"{item.source} record {item.external_id} is not valid")
        return item


class StageWritePipeline(_StagePipeline):
    """Batch changed records into the staging tables."""

    def process_item(self, item: Any) -> Any:
        if self.session is not None and isinstance(item, ListingItem):
            self.session.stage(item)
        return item

    def close_spider(self) -> None:
        if self.session is not None:
            self.session.flush()
            self.session.drain()
