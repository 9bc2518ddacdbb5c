"""Log formatter: dropped items are logged briefly, without their payload."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class QuietDropLogFormatter(LogFormatter):
    """Scrapy's formatter, but a dropped item is one DEBUG line naming the reason only."""

    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        return {
            "level": logging.DEBUG,
            "msg": "Dropped: %(exception)s",
            "args": {"exception": exception},
        }
