"""The ``xml_feed`` fetcher: XML documents holding repeated record elements, streamed.

``records`` names the record element: one name (``item``, matched at any depth) or a path
from the root (``rss/channel/item``). Each record becomes a dict (see
:func:`pipeline_core.records.xml_read.element_to_value`) so the mapping's field paths read
it like JSON. No entity or DTD is ever resolved: a document declaring entities is a page
error and nothing of it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from lxml import etree
from scrapy.http import Response

from pipeline_core.hookspecs import hookimpl
from pipeline_core.records.xml_read import Namer, UnsafeXML, iter_records
from pipeline_core.scrapy.pagination import ALL_TYPES, PagedSpider, PageState


def element_path(text: str) -> list[str]:
    """``rss/channel/item`` → ["rss", "channel", "item"] (a leading ``/`` is allowed)."""
    return [part for part in text.strip("/").split("/") if part]


class XmlFeedSpider(PagedSpider):
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
        self.value_path = element_path(self.pages.path) if self.pages.path else None

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
        yield from self.follow(self.next_page(response, state, count, found.get("value")), state)


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in XML feed fetcher."""
    return [XmlFeedSpider]
