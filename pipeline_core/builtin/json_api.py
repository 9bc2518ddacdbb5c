"""The ``json_api`` fetcher: JSON pages with a list of records, following pagination.

Pagination types are those of :mod:`pipeline_core.scrapy.pagination`: ``none``,
``next_link``, ``page``, ``offset``, ``link_header`` and ``cursor``; ``max_pages`` caps any
of them. Request headers take secrets from the environment (``${NAME}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
from scrapy.http import Response

from pipeline_core.hookspecs import hookimpl
from pipeline_core.mapping import make_getter
from pipeline_core.scrapy.pagination import ALL_TYPES, PagedSpider, PageState
from pipeline_core.scrapy.pagination import next_from_link_header as next_from_link_header


class JsonApiSpider(PagedSpider):
    """Fetch a JSON API: records at ``records``, pages by ``pagination``."""

    fetcher_name = "json_api"
    fetcher_help = (
        "JSON pages with a record list; next-link, page, offset, Link-header or cursor pagination"
    )
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {},
    }
    pagination_types = ALL_TYPES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records_path: str = self.options.get("records", "$")
        self.records_at = make_getter(self.records_path)
        self.value_at = make_getter(self.pages.path) if self.pages.path else None
        total = self.pages.total_pages_path
        self.total_pages_at = make_getter(total) if total else None

    def parse(self, response: Response, state: PageState | None = None) -> Iterator[Any]:
        state = state or PageState(1, None)
        try:
            data = orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            self.report_page_error(f"not valid JSON: {exc}", response.url)
            yield from self._past_broken(state)
            return
        records = self.records_at(data)
        if not isinstance(records, list):
            # an error answered with status 200 often has no record list at all
            self.report_page_error(f"no list of records at {self.records_path!r}", response.url)
            yield from self._past_broken(state)
            return
        following = self.next_page(
            response,
            state,
            len(records),
            self.value_at(data) if self.value_at else None,
            self.total_pages_at(data) if self.total_pages_at else None,
        )
        # The next page first: it downloads while this page's records go through the
        # item pipelines.
        yield from self.follow(following, state)
        make = self.record
        url = response.url
        for payload in records:
            item = make(payload, url)
            if item is not None:
                yield item

    def _past_broken(self, state: PageState) -> Iterator[Any]:
        yield from self.follow(self.pages.after_broken(state), state)


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in JSON API fetcher."""
    return [JsonApiSpider]
