"""An in-repo spider: an index page lists detail pages, one listing each.

Its source (``mappings/example-harbour.yaml``) says ``fetcher: spider``; subclassing
:class:`FetcherSpider` gives it the source's start URL and ``report_page_error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import scrapy
from scrapy.http import Response

from pipeline_core.scrapy.fetcher import FetcherSpider


class ExampleHarbourSpider(FetcherSpider):
    """Index page → detail pages."""

    name = "example-harbour"

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.start_url, callback=self.parse, errback=self.on_request_error)

    def parse(self, response: Response) -> Iterator[Any]:
        for link in orjson.loads(response.body)["listings"]:
            yield response.follow(link, callback=self.parse_detail, errback=self.on_request_error)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        try:
            payload = orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            self.report_page_error(f"not valid JSON: {exc}", response.url)
            return
        item = self.record(payload, response.url)
        if item is not None:  # None: unchanged since the last crawl
            yield item
