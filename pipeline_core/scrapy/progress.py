"""Progress: a count line in the log every few seconds while a crawl runs.

``PIPELINE_PROGRESS_INTERVAL`` (seconds, default 10; 0 turns it off) sets how often. The
CLI also draws a progress bar from the same counts (``pipeline_core.cli``).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


class ProgressLog:
    """Logs pages and records so far, and what the stage session has counted."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLog:
        interval = crawler.settings.getfloat("PIPELINE_PROGRESS_INTERVAL", 10.0)
        if interval <= 0:
            raise NotConfigured("PIPELINE_PROGRESS_INTERVAL is 0")
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider: Any) -> None:
        self.loop = task.LoopingCall(self.log)
        self.loop.start(self.interval, now=False)

    def log(self) -> None:
        stats = self.crawler.stats
        session = getattr(self.crawler, "dmo_session", None)
        counts = dict(session.stats) if session is not None else {}
        logger.info(
            "progress: %d pages, %d records; inserted %d, updated %d, unchanged %d, invalid %d",
            stats.get_value("response_received_count", 0),
            counts.get("scraped", stats.get_value("item_scraped_count", 0)),
            counts.get("inserted", 0),
            counts.get("updated", 0),
            counts.get("unchanged", 0),
            counts.get("invalid", 0),
        )

    def closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
