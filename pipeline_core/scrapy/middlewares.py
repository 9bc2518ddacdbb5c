"""Downloader middleware enforcing the URL policy (:mod:`pipeline_core.urlpolicy`)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.urlpolicy import check_url

logger = logging.getLogger(__name__)


class URLPolicyMiddleware:
    """Refuse requests to URLs the policy does not allow, before they are sent."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allowed_hosts = tuple(get_runtime().settings.allowed_hosts)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> URLPolicyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        spider = self.crawler.spider
        start = getattr(spider, "start_url", "") or ""
        source = getattr(spider, "source", None)
        # file: only for sources defined in a mapping file that starts from a file: URL
        # (bundled samples); never for stored configurations, which the API may edit.
        from_file = source is not None and source.mapping.base_dir is not None
        try:
            check_url(
                request.url, self.allowed_hosts, allow_file=from_file and start.startswith("file:")
            )
        except URLPolicyError as exc:
            self.crawler.stats.inc_value("dmo/refused_urls")
            raise IgnoreRequest(str(exc)) from None
        return None
