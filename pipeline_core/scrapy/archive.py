"""``ArchivePipeline``: archive mode, on when the Scrapy setting ``PIPELINE_ARCHIVE_PATH`` is set.

A crawl with ``-s PIPELINE_ARCHIVE_PATH=FILE`` writes every raw record of the source to
``FILE`` as JSON Lines (:class:`pipeline_core.stages.archive.ArchiveSession`) and maps,
validates and stages nothing: the stage pipelines let the items pass. The ``scrape`` job
runs its crawl this way. Without the setting the pipeline disables itself
(``NotConfigured``) and a crawl is exactly what it always was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from pipeline_core.items import RawRecord
from pipeline_core.scrapy.reporting import attach
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.stages.archive import ArchiveSession

logger = logging.getLogger(__name__)

SETTING = "PIPELINE_ARCHIVE_PATH"


def archive_mode(crawler: Crawler) -> bool:
    """True when the crawl archives raw records instead of staging them."""
    return bool(crawler.settings.get(SETTING))


class ArchivePipeline:
    """Write each :class:`RawRecord` to the archive file; other items pass untouched."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.session: ArchiveSession | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        path = crawler.settings.get(SETTING)
        if not path:  # the normal case: no message, so Scrapy logs no "Disabled" warning
            raise NotConfigured
        return cls(crawler, Path(path))

    def open_spider(self) -> None:
        spider = self.crawler.spider
        runtime = get_runtime()
        name = getattr(spider, "name", "?")
        if name not in runtime.sources:
            logger.warning("spider %s has no source: nothing is archived", name)
            return
        source = runtime.source(name)
        runtime.ensure_database()
        session = ArchiveSession(
            runtime.engine, source.name, source.dmo, source.fetcher, source.origin, self.path
        )
        session.open()
        self.session = session
        # The fetcher reports errors and builds records through the crawler's session, and
        # Scrapy's error signals reach it.
        attach(self.crawler, session)

        def closed(spider: Spider, reason: str) -> None:
            stats = session.close(reason)
            self.crawler.stats.set_value("dmo/scraped", stats["scraped"])
            self.crawler.stats.set_value("dmo/archived", session.archived)
            self.crawler.stats.set_value("dmo/errors", stats["errors"])
            self.crawler.stats.set_value("dmo/complete", stats["complete"])

        self.crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)

    def process_item(self, item: Any) -> Any:
        if self.session is not None and isinstance(item, RawRecord):
            self.session.archive(item)
        return item
