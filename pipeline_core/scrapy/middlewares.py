"""Middlewares: the URL policy (:mod:`pipeline_core.urlpolicy`), the offsite filter of
sources (a request to a host outside the source's hosts is never sent) and the URL length
limit (a request it drops is a page error of a source)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware
from scrapy.utils.httpobj import urlparse_cached

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.scrapy.fetcher import FetcherSpider
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.urlpolicy import check_url

logger = logging.getLogger(__name__)


class URLPolicyMiddleware:
    """Refuse requests to URLs the policy does not allow, before they are sent."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allowed_hosts = tuple(get_runtime().settings.allowed_hosts)
        self.name_servers = get_runtime().settings.name_servers

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
                request.url,
                self.allowed_hosts,
                allow_file=from_file and start.startswith("file:"),
                name_servers=self.name_servers,
            )
        except URLPolicyError as exc:
            self.crawler.stats.inc_value("dmo/refused_urls")
            raise IgnoreRequest(str(exc)) from None
        return None


class SourceOffsiteMiddleware(OffsiteMiddleware):
    """Scrapy's offsite filter, made strict for sources.

    A fetcher's hosts are the host of the source's ``url`` and its ``allowed_hosts``
    (``FetcherSpider.source_hosts``); a source that starts from a ``file:`` URL has only its
    ``allowed_hosts``, none by default. A request to any other host (a next-page link that
    names a public API, a detail link to another site) is dropped when it is scheduled,
    before any name lookup or connection, and reported as a page error: the crawl missed
    that page, so it is not complete and nothing is withdrawn. Spiders that are not
    fetchers keep Scrapy's rule (``allowed_domains``, everything when empty).
    """

    def should_follow(self, request: Request, spider: Spider) -> bool:
        parts = urlparse_cached(request)
        hosts = getattr(spider, "source_hosts", None)
        if hosts is None:
            return bool(super().should_follow(request, spider))
        if parts.scheme == "file":
            return True  # which files is the URL policy's decision
        host = (parts.hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in hosts)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            super().process_request(request)
        except IgnoreRequest:
            source_spider = self.crawler.spider
            hosts = getattr(source_spider, "source_hosts", None)
            if hosts is not None:
                host = urlparse_cached(request).hostname or ""
                self.crawler.stats.inc_value("dmo/offsite_urls")
                source_spider.report_page_error(  # type: ignore[union-attr]
                    f"not followed: host {host} is not one of the source's hosts "
                    f"({', '.join(hosts) or 'none'}); add it to allowed_hosts to follow it",
                    request.url,
                )
            raise


class SourceUrlLengthMiddleware(UrlLengthMiddleware):
    """Scrapy's URL length limit (``URLLENGTH_LIMIT``), with a dropped request reported.

    Scrapy drops a request whose URL is longer than the limit and logs it at INFO. For a
    fetcher that request is a page the crawl then misses (a next page whose URL carries a
    long cursor, a detail page), so it is a page error naming the URL and the setting: the
    crawl is not complete and nothing is withdrawn. The limit itself is Scrapy's, kept as
    set; spiders that are not fetchers keep Scrapy's behaviour.
    """

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        processed = super().get_processed_request(request, response)
        spider = self.crawler.spider
        if processed is None and isinstance(spider, FetcherSpider):
            spider.report_page_error(
                f"not followed: the URL is {len(request.url)} characters long, more than "
                f"URLLENGTH_LIMIT ({self.maxlength}); raise the setting to follow it",
                request.url,
            )
        return processed
