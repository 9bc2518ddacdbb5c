"""Pagination shared by the feed fetchers: which URL comes after a page.

A fetcher reads the page's body in its own format; this module only needs what it found:
the value at ``pagination.path`` (a next URL or a cursor), the number of records, and the
response (for ``Link`` headers and relative URLs). Types (the mapping's ``pagination.type``):

- ``none``: one page.
- ``next_link``: the next URL is the value at ``path``; ends when it is missing or empty.
- ``page``: query parameter ``param`` (default ``page``) counts from ``start`` (default 1);
  ``size_param``/``size`` set the page size; ends at an empty page, or after
  ``total_pages_path`` pages when given (a value there that is not a number is a page
  error, and no page follows).
- ``offset``: query parameter ``param`` (default ``offset``) moves by the number of records
  each page held (``size``, default 100, is sent as ``size_param``, default ``limit``); ends
  at an empty page.
- ``link_header``: the next URL is the ``rel="next"`` link of the ``Link`` headers (RFC
  8288; one header or several).
- ``cursor``: the value at ``path`` (default ``next_cursor``) is sent as query parameter
  ``param`` (default ``cursor``) on the first URL; ends when it is missing or empty, or
  repeats the cursor just sent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import scrapy
from scrapy.http import Response
from w3lib.url import add_or_replace_parameters

from pipeline_core.exceptions import PageError
from pipeline_core.scrapy.fetcher import FetcherSpider

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r"""rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)

#: Every pagination type, in the order the docs list them.
ALL_TYPES = ("none", "next_link", "page", "offset", "link_header", "cursor")
#: Types that need no value from the body: usable by any fetcher.
URL_TYPES = ("none", "page", "offset", "link_header")


def next_from_link_header(header: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header value, or None."""
    for match in _LINK.finditer(header):
        params = match.group(2)
        rel = _REL_NEXT.search(params)
        if rel and "next" in rel.group(1).lower().split():
            return match.group(1)
    return None


@dataclass(frozen=True)
class PageState:
    """Where a request stands: its page number (1 = first fetched), position (page number,
    offset or cursor sent), and whether it follows a page that could not be read."""

    page: int
    position: Any
    after_broken: bool = False


class Pagination:
    """The ``pagination`` object of a mapping, applied to ``start_url``."""

    def __init__(self, spec: dict[str, Any] | None, start_url: str) -> None:
        self.spec: dict[str, Any] = spec or {"type": "none"}
        self.kind: str = self.spec["type"]
        self.start_url = start_url
        self.max_pages: int | None = self.spec.get("max_pages")
        self.size = int(self.spec.get("size", 100))
        default_path = "next_cursor" if self.kind == "cursor" else "next"
        #: Path of the value the fetcher must look up in each body (None: none needed).
        self.path: str | None = (
            self.spec.get("path", default_path) if self.kind in ("next_link", "cursor") else None
        )
        self.total_pages_path: str | None = self.spec.get("total_pages_path")

    def _page_url(self, number: int) -> str:
        params: dict[str, str] = {}
        if self.kind == "page":
            params[self.spec.get("param", "page")] = str(number)
            if "size" in self.spec:
                params[self.spec.get("size_param", "per_page")] = str(self.size)
        elif self.kind == "offset":
            params[self.spec.get("param", "offset")] = str(number)
            params[self.spec.get("size_param", "limit")] = str(self.size)
        return add_or_replace_parameters(self.start_url, params) if params else self.start_url

    def first(self) -> tuple[str, PageState]:
        """The first URL to fetch and its state."""
        if self.kind in ("page", "offset"):
            number = int(self.spec.get("start", 1 if self.kind == "page" else 0))
            return self._page_url(number), PageState(1, number)
        return self.start_url, PageState(1, None)

    def after(
        self,
        response: Response,
        state: PageState,
        count: int,
        value: Any = None,
        total_pages: Any = None,
    ) -> tuple[str, PageState] | None:
        """The URL after a page with ``count`` records, or None at the end.

        ``value`` is what the body holds at :attr:`path`; ``total_pages`` what it holds at
        ``total_pages_path`` (:class:`PageError` when that is not a number). ``max_pages``
        is not applied here: see :meth:`capped`.
        """
        nxt = state.page + 1
        if self.kind == "next_link":
            if isinstance(value, str) and value.strip():
                return response.urljoin(value.strip()), PageState(nxt, None)
            return None
        if self.kind == "cursor":
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip() or value == state.position:
                return None
            param = self.spec.get("param", "cursor")
            return add_or_replace_parameters(self.start_url, {param: value}), PageState(nxt, value)
        if self.kind == "link_header":
            # A server may send its links in several Link headers (rel="next" in one,
            # rel="first" in another): read them all, as one list.
            header = b", ".join(response.headers.getlist("Link")).decode("latin-1")
            target = next_from_link_header(header) if header else None
            return (response.urljoin(target), PageState(nxt, None)) if target else None
        if self.kind == "page":
            if not count:
                return None
            if total_pages is not None:
                first = int(self.spec.get("start", 1))
                if state.position - first + 1 >= self._page_count(total_pages):
                    return None
            return self._page_url(state.position + 1), PageState(nxt, state.position + 1)
        if self.kind == "offset":
            # Move by the records the page held, and end only at an empty page: a server
            # that caps the page size below ``size`` would otherwise end the crawl after
            # its first page, complete, and the listings after it would be withdrawn.
            if not count:
                return None
            position = state.position + count
            return self._page_url(position), PageState(nxt, position)
        return None

    def _page_count(self, value: Any) -> int:
        try:
            if isinstance(value, bool):  # JSON true is not 1 page
                raise TypeError
            return int(value)
        except (TypeError, ValueError, OverflowError):
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise PageError(
                f"total_pages_path {self.total_pages_path!r} holds {shown}, not a number of "
                "pages; the pages after this one are not fetched"
            ) from None

    def after_broken(self, state: PageState) -> tuple[str, PageState] | None:
        """The URL after a page that could not be read, when it can be known without the
        page (``page`` and ``offset``), and the page before it was read: a single broken
        page loses only itself; two in a row end the crawl."""
        if state.after_broken or self.kind not in ("page", "offset"):
            return None
        position = state.position + (1 if self.kind == "page" else self.size)
        return self._page_url(position), PageState(state.page + 1, position, True)

    def capped(self, state: PageState) -> bool:
        """True when ``max_pages`` forbids fetching a page after ``state``."""
        return self.max_pages is not None and state.page >= self.max_pages


class PagedSpider(FetcherSpider):
    """A fetcher reading one URL page after page, as the mapping's ``pagination`` says.

    Sets :attr:`pages` and :attr:`headers`; :meth:`start` requests the first page with
    ``state`` as the callback's keyword argument, and a subclass's ``parse`` hands what
    :meth:`next_page` returns to :meth:`follow`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages = Pagination(self.options.get("pagination"), self.start_url)
        self.headers = self.request_headers()

    def page_request(self, url: str, state: PageState) -> scrapy.Request:
        """The request for one page, parsed by ``parse(response, state=state)``."""
        return scrapy.Request(
            url,
            headers=self.headers,
            callback=self.parse,
            errback=self.on_request_error,
            cb_kwargs={"state": state},
        )

    async def start(self) -> AsyncIterator[Any]:
        """The first page's request."""
        url, state = self.pages.first()
        yield self.page_request(url, state)

    def next_page(
        self,
        response: Response,
        state: PageState,
        count: int,
        value: Any = None,
        total_pages: Any = None,
    ) -> tuple[str, PageState] | None:
        """The page after this one (:meth:`Pagination.after`), or None; a value the
        pagination cannot use is a page error (the crawl is not complete) and no page
        follows."""
        try:
            return self.pages.after(response, state, count, value, total_pages)
        except PageError as exc:
            self.report_page_error(str(exc), response.url)
            return None

    def follow(self, following: tuple[str, PageState] | None, state: PageState) -> Iterator[Any]:
        """The next page's request, if there is one and ``max_pages`` is not reached (then
        the crawl is reported as cut short)."""
        if following is None:
            return
        if self.pages.capped(state):
            self.report_cut_short(f"max_pages {self.pages.max_pages} reached")
            return
        yield self.page_request(*following)
