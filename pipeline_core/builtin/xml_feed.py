"""The ``xml_feed`` fetcher: XML documents holding repeated record elements, streamed.

``records`` names the record element: one name (``item``, matched at any depth) or a path
from the root (``rss/channel/item``). Each record becomes a dict (see
:func:`pipeline_core.builtin.xml_read.element_to_value`) so the mapping's field paths read
it like JSON. No entity or DTD is ever resolved: a document declaring entities is a page
error and nothing of it is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import scrapy
from lxml import etree
from scrapy.http import Response

from pipeline_core.builtin.xml_read import Namer, UnsafeXML, iter_records
from pipeline_core.hookspecs import hookimpl
from pipeline_core.scrapy.fetcher import FetcherSpider
from pipeline_core.scrapy.pagination import ALL_TYPES, PageState, Pagination


def element_path(text: str) -> list[str]:
    """``rss/channel/item`` → ["rss", "channel", "item"] (a leading ``/`` is allowed)."""
    return [part for part in text.strip("/").split("/") if part]


class XmlFeedSpider(FetcherSpider):
    """Fetch XML feeds: every element at ``records`` is a record."""

    fetcher_name = "xml_feed"
    fetcher_help = "XML documents with repeated record elements, streamed; entities never resolved"
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "namespaces": {
                "type": "object",
                "additionalProperties": {"type": "string", "minLength": 1},
                "description": "prefix → namespace URI: elements of these namespaces are "
                "named prefix:local in records; all others by their local name",
            },
        },
    }
    pagination_types = ALL_TYPES
    required_keys = ("records",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.record_path = element_path(self.options["records"])
        self.namer = Namer(self.fetch_options.get("namespaces"))
        self.pages = Pagination(self.options.get("pagination"), self.start_url)
        self.value_path = element_path(self.pages.path) if self.pages.path else None
        self.headers = self.request_headers()

    def _request(self, url: str, state: PageState) -> scrapy.Request:
        return scrapy.Request(
            url,
            headers=self.headers,
            callback=self.parse,
            errback=self.on_request_error,
            cb_kwargs={"state": state},
        )

    async def start(self) -> AsyncIterator[Any]:
        url, state = self.pages.first()
        yield self._request(url, state)

    def parse(self, response: Response, state: PageState | None = None) -> Iterator[Any]:
        state = state or PageState(1, None)
        found: dict[str, Any] = {}
        count = 0
        url = response.url
        records = iter_records(response.body, self.record_path, self.namer, self.value_path, found)
        try:
            for payload in records:
                count += 1
                item = self.record(payload, url)
                if item is not None:
                    yield item
        except UnsafeXML as exc:
            self.report_page_error(f"refused: {exc}", url)
            return
        except etree.XMLSyntaxError as exc:
            self.report_page_error(f"not well-formed XML after {count} records: {exc}", url)
            return
        following = self.pages.after(response, state, count, found.get("value"))
        if following is None:
            return
        if self.pages.capped(state):
            self.report_cut_short(f"max_pages {self.pages.max_pages} reached")
            return
        yield self._request(*following)


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in XML feed fetcher."""
    return [XmlFeedSpider]
