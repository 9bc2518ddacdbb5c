"""A custom spider: Riverside's events are HTML pages, one event each, listed on an index.

No generic fetcher reads this site, so the spider does the fetching and builds one plain
record per event; the mapping (``mappings/riverside-events.yaml``) does the rest, as for
any source. Subclassing ``FetcherSpider`` gives the spider the source's start URL,
``record()`` (the item to yield, with the record's id) and page-error reporting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from pipeline_core.scrapy.fetcher import FetcherSpider


class RiversideEventsSpider(FetcherSpider):
    """Index page → one page per event."""

    name = "riverside-events"

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.start_url, callback=self.parse, errback=self.on_request_error)

    def parse(self, response: Response) -> Iterator[Any]:
        for href in response.css("a.event::attr(href)").getall():
            yield response.follow(href, callback=self.parse_event, errback=self.on_request_error)

    def parse_event(self, response: Response) -> Iterator[Any]:
        event = response.css("article.event")
        if not event:
            self.report_page_error("no <article class=event> on the page", response.url)
            return
        payload = {
            "id": event.attrib.get("data-id"),
            "title": event.css("h1::text").get(),
            "text": event.css("div.description").get(),
            "venue": event.css(".venue::text").get(),
            "dates": [
                {
                    "start": event.css("time.start::attr(datetime)").get(),
                    "end": event.css("time.end::attr(datetime)").get(),
                }
            ],
        }
        item = self.record(payload, response.url)
        if item is not None:  # None: unchanged since the last crawl
            yield item
