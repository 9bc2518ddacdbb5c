"""Log formatter: dropped items are logged briefly, without their payload."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult

_SCRAPER_LOG = logging.getLogger("scrapy.core.scraper")


class QuietDropLogFormatter(LogFormatter):
    """Scrapy's formatter, but a dropped item is one DEBUG line naming the reason only, and
    the per-item "Scraped from" line is not even built unless DEBUG logging is on."""

    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult | None:  # type: ignore[override]
        if not _SCRAPER_LOG.isEnabledFor(logging.DEBUG):
            return None
        return super().scraped(item, response, spider)

    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        return {
            "level": logging.DEBUG,
            "msg": "Dropped: %(exception)s",
            "args": {"exception": exception},
        }
