"""The ``json_api`` fetcher: JSON pages with a list of records, following pagination.

Pagination (the mapping's ``pagination.type``):

- ``none``: one page.
- ``next_link``: the next page's URL is at ``path`` in the body (relative URLs allowed);
  the crawl ends when it is empty or missing.
- ``page``: query parameter ``param`` (default ``page``) counts from ``start`` (default 1);
  ``size_param``/``size`` set the page size; ends at an empty page, or after
  ``total_pages_path`` pages when given.
- ``offset``: query parameter ``param`` (default ``offset``) moves by ``size`` (default 100,
  sent as ``size_param``, default ``limit``); ends at a page with fewer than ``size`` records.
- ``link_header``: the next URL is the ``Link`` header's ``rel="next"`` (RFC 8288).

``max_pages`` caps any of them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import scrapy
from scrapy.http import Response
from w3lib.url import add_or_replace_parameters

from pipeline_core.hookspecs import hookimpl
from pipeline_core.mapping import make_getter
from pipeline_core.scrapy.fetcher import FetcherSpider

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r"""rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


def next_from_link_header(header: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header value, or None."""
    for match in _LINK.finditer(header):
        params = match.group(2)
        rel = _REL_NEXT.search(params)
        if rel and "next" in rel.group(1).lower().split():
            return match.group(1)
    return None


class JsonApiSpider(FetcherSpider):
    """Fetch a JSON API: records at ``records``, pages by ``pagination``."""

    fetcher_name = "json_api"
    fetcher_help = (
        "JSON pages with a record list; next-link, page, offset or Link-header pagination"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records_at = make_getter(self.options.get("records", "$"))
        self.pagination: dict[str, Any] = self.options.get("pagination", {"type": "none"})
        self.kind: str = self.pagination["type"]
        self.max_pages: int | None = self.pagination.get("max_pages")
        self.headers = self.request_headers()
        self.size = int(self.pagination.get("size", 100))
        self.next_at = make_getter(self.pagination.get("path", "next"))
        total_path = self.pagination.get("total_pages_path")
        self.total_pages_at = make_getter(total_path) if total_path else None

    def _page_url(self, number: int) -> str:
        params: dict[str, str] = {}
        if self.kind == "page":
            params[self.pagination.get("param", "page")] = str(number)
            if "size" in self.pagination:
                params[self.pagination.get("size_param", "per_page")] = str(self.size)
        elif self.kind == "offset":
            params[self.pagination.get("param", "offset")] = str(number)
            params[self.pagination.get("size_param", "limit")] = str(self.size)
        return add_or_replace_parameters(self.start_url, params) if params else self.start_url

    def _request(self, url: str, page: int, position: int) -> scrapy.Request:
        return scrapy.Request(
            url,
            headers=self.headers,
            callback=self.parse,
            errback=self.on_request_error,
            cb_kwargs={"page": page, "position": position},
        )

    async def start(self) -> AsyncIterator[Any]:
        first = int(self.pagination.get("start", 1 if self.kind == "page" else 0))
        yield self._request(
            self._page_url(first) if self.kind in ("page", "offset") else self.start_url, 1, first
        )

    def parse(self, response: Response, page: int = 1, position: int = 0) -> Iterator[Any]:
        try:
            data = orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            self.report_page_error(f"not valid JSON: {exc}", response.url)
            return
        records = self.records_at(data)
        if records is None and self.options.get("records", "$") != "$":
            # an error answered with status 200 often has no record list at all
            self.report_page_error(
                f"no list of records at {self.options['records']!r}", response.url
            )
            return
        if not isinstance(records, list):
            path = self.options.get("records", "$")
            self.report_page_error(f"no list of records at {path!r}", response.url)
            return
        make = self.record
        url = response.url
        for payload in records:
            item = make(payload, url)
            if item is not None:
                yield item
        next_url = self._next_url(response, data, records, position)
        if not next_url:
            return
        if self.max_pages is not None and page >= self.max_pages:
            self.report_cut_short(f"max_pages {self.max_pages} reached")
            return
        next_position = position + (self.size if self.kind == "offset" else 1)
        yield self._request(next_url, page + 1, next_position)

    def _next_url(
        self, response: Response, data: Any, records: list[Any], position: int
    ) -> str | None:
        if self.kind == "next_link":
            target = self.next_at(data)
            return response.urljoin(target) if isinstance(target, str) and target.strip() else None
        if self.kind == "link_header":
            header = response.headers.get("Link")
            target = next_from_link_header(header.decode("latin-1")) if header else None
            return response.urljoin(target) if target else None
        if self.kind == "page":
            if not records:
                return None
            if self.total_pages_at is not None:
                total = self.total_pages_at(data)
                first = int(self.pagination.get("start", 1))
                if total is not None and position - first + 1 >= int(total):
                    return None
            return self._page_url(position + 1)
        if self.kind == "offset":
            if len(records) < self.size:
                return None
            return self._page_url(position + self.size)
        return None


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in JSON API fetcher."""
    return [JsonApiSpider]
