"""The ``html`` fetcher: HTML pages read by CSS or XPath selectors into record dicts.

List pages lead to detail pages (``links``) and to the next list page (``next_page``), as
for ``jsonld``. On each detail page, every element ``record`` selects is a record (default:
the page is one record); ``extract`` names the record's keys and the selector of each,
relative to the record element. The payload also holds ``@url``, the page's URL, so pages
without ids can use ``id: "@url"``. The mapping then maps the payload as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy.http import Response, TextResponse

from pipeline_core.builtin.html_pages import PAGE_OPTIONS, PageCrawlSpider
from pipeline_core.builtin.html_select import html_of, select, selector_error, texts
from pipeline_core.hookspecs import hookimpl

_EXTRACT = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "required": ["select"],
            "additionalProperties": False,
            "properties": {
                "select": {"type": "string", "minLength": 1},
                "all": {"type": "boolean"},
                "absolute": {"type": "boolean"},
            },
        },
    ]
}


class HtmlSpider(PageCrawlSpider):
    """Fetch HTML pages: records and their values by selectors."""

    fetcher_name = "html"
    fetcher_help = "HTML list and detail pages; records and values by CSS or XPath selectors"
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["extract"],
        "properties": {
            **PAGE_OPTIONS,
            "record": {"type": "string", "minLength": 1},
            "extract": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": _EXTRACT,
            },
        },
    }
    selector_options = ("links", "next_page", "record")

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> tuple[list[Any], str] | None:
        """Every selector, including those of ``extract``, must parse."""
        problem = super().check_options(options)
        if problem is not None:
            return problem
        for key, spec in options.get("extract", {}).items():
            expression = spec if isinstance(spec, str) else spec["select"]
            error = selector_error(expression)
            if error:
                return ["extract", key], error
        return None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.record_selector: str | None = self.fetch_options.get("record")
        self.extract: list[tuple[str, str, bool, bool]] = [
            (key, spec, False, False)
            if isinstance(spec, str)
            else (key, spec["select"], spec.get("all", False), spec.get("absolute", False))
            for key, spec in self.fetch_options["extract"].items()
        ]

    def _payload(self, node: Any, response: Response) -> dict[str, Any]:
        payload: dict[str, Any] = {"@url": response.url}
        for key, expression, every, absolute in self.extract:
            values = texts(node, expression)
            if absolute:
                values = [response.urljoin(value) for value in values]
            payload[key] = values if every else (values[0] if values else None)
        return payload

    def parse_detail(self, response: Response) -> Iterator[Any]:
        """The records of one page."""
        if not isinstance(response, TextResponse):
            self.report_page_error("not an HTML page", response.url)
            return
        page = html_of(response)
        nodes = select(page, self.record_selector) if self.record_selector else [page]
        for node in nodes:
            record = self.record(self._payload(node, response), response.url)
            if record is not None:
                yield record


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in HTML fetcher."""
    return [HtmlSpider]
