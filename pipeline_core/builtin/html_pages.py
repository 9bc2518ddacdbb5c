"""List pages to detail pages: the crawling shared by the ``html`` and ``jsonld`` fetchers.

From ``url``, each list page's ``links`` selector gives detail pages, and its
``next_page`` selector the next list page (``max_pages`` caps the list pages). Without
``links``, every list page is itself read for records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse

from pipeline_core.builtin.html_select import html_of, links, selector_error
from pipeline_core.scrapy.fetcher import FetcherSpider

#: Options of :class:`PageCrawlSpider`, part of each subclass's ``options_schema``.
PAGE_OPTIONS: dict[str, Any] = {
    "links": {"type": "string", "minLength": 1},
    "next_page": {"type": "string", "minLength": 1},
    "max_pages": {"type": "integer", "minimum": 1},
}


class PageCrawlSpider(FetcherSpider):
    """Follows list pages and detail pages; subclasses read records in :meth:`parse_detail`."""

    pagination_types: ClassVar[tuple[str, ...] | None] = ("none",)
    #: Options holding selectors, checked for syntax when the mapping loads.
    selector_options: ClassVar[tuple[str, ...]] = ("links", "next_page")

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> tuple[list[Any], str] | None:
        """Every selector must parse."""
        for key in cls.selector_options:
            if key in options:
                problem = selector_error(options[key])
                if problem:
                    return [key], problem
        return None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.fetch_options
        self.links_selector: str | None = options.get("links")
        self.next_selector: str | None = options.get("next_page")
        self.max_pages: int | None = options.get("max_pages")
        self.headers = self.request_headers()

    def _request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            headers=self.headers,
            callback=callback,
            errback=self.on_request_error,
            cb_kwargs=kwargs,
        )

    async def start(self) -> AsyncIterator[Any]:
        yield self._request(self.start_url, self.parse_list, page=1)

    def parse_list(self, response: Response, page: int = 1) -> Iterator[Any]:
        """A list page: its detail pages (or its own records), then the next list page."""
        if self.links_selector is None:
            yield from self.parse_detail(response)
        elif not isinstance(response, TextResponse):
            self.report_page_error("not an HTML page: cannot follow links", response.url)
            return
        else:
            for link in links(html_of(response), self.links_selector):
                yield self._request(response.urljoin(link), self.parse_detail)
        if self.next_selector is None or not isinstance(response, TextResponse):
            return
        following = links(html_of(response), self.next_selector)
        if not following:
            return
        if self.max_pages is not None and page >= self.max_pages:
            self.report_cut_short(f"max_pages {self.max_pages} reached")
            return
        yield self._request(response.urljoin(following[0]), self.parse_list, page=page + 1)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        """Yield the records of one detail page."""
        raise NotImplementedError
