"""Middlewares: the URL policy (:mod:`pipeline_core.urlpolicy`), the offsite filter of
sources (a request to a host outside the source's hosts is never sent), credential headers
dropped on a redirect to another origin, and the URL length limit (a request it drops is a
page error of a source)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware
from scrapy.utils.httpobj import urlparse_cached

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.mapping.fetcher_check import SECRET_HEADER
from pipeline_core.mapping.secrets import ANY_REF
from pipeline_core.scrapy.fetcher import FetcherSpider
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.urlpolicy import check_url, file_roots

logger = logging.getLogger(__name__)


class URLPolicyMiddleware:
    """Refuse requests to URLs the policy does not allow, before they are sent."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.settings = get_runtime().settings
        self.allowed_hosts = tuple(self.settings.allowed_hosts)
        self.name_servers = self.settings.name_servers

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> URLPolicyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        spider = self.crawler.spider
        start = getattr(spider, "start_url", "") or ""
        source = getattr(spider, "source", None)
        # file: only for sources defined in a mapping file that starts from a file: URL
        # (bundled samples), and only in its folders; never for stored configurations,
        # which the API may edit.
        roots = None
        if source is not None and source.mapping.base_dir is not None and start.startswith("file:"):
            roots = file_roots(source.mapping.base_dir, self.settings)
            if start != source.mapping.resolved_url():  # the operator's own --url / start_url
                roots += (Path(url2pathname(urlsplit(start).path)).parent,)
        try:
            check_url(
                request.url,
                self.allowed_hosts,
                file_roots=roots,
                name_servers=self.name_servers,
            )
        except URLPolicyError as exc:
            self.crawler.stats.inc_value("dmo/refused_urls")
            raise IgnoreRequest(str(exc)) from None
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class RedirectCredentialsMiddleware:
    """Drop credential headers from a request that a redirect sends to another origin.

    Scrapy drops ``Authorization`` and ``Cookie`` when a redirect changes the scheme or the
    host. A source's secret may travel in any header (``X-Api-Key``): on a redirect whose
    scheme, host or port differs from the page that redirected, every header whose name
    looks like a credential (:data:`~pipeline_core.mapping.fetcher_check.SECRET_HEADER`)
    and every header of the mapping that holds a ``${...}`` reference is removed before the
    request is sent. A redirect within one origin keeps them.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectCredentialsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        previous = request.meta.get("redirect_urls")
        if not previous or _origin(previous[-1]) == _origin(request.url):
            return None
        source = getattr(self.crawler.spider, "source", None)
        templates = source.mapping.doc.get("headers", {}) if source is not None else {}
        referencing = {name.lower() for name, value in templates.items() if ANY_REF.search(value)}
        for name in list(request.headers.keys()):
            text = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            if SECRET_HEADER.search(text) or text.lower() in referencing:
                del request.headers[name]
                self.crawler.stats.inc_value("dmo/redirect_dropped_headers")
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
