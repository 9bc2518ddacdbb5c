"""The session a crawl reports to, and Scrapy's error signals connected to it.

A crawl has one session (``crawler.dmo_session``): a
:class:`~pipeline_core.stages.session.StageSession` when it stages, an
:class:`~pipeline_core.stages.archive.ArchiveSession` in archive mode and a
:class:`~pipeline_core.scrapy.preview.PreviewSession` in a preview. Fetchers call it
through :class:`~pipeline_core.scrapy.fetcher.FetcherSpider`; :class:`CrawlSession` is what
all three provide. :func:`attach` also connects Scrapy's ``spider_error`` (a callback or
errback raised) and ``item_error`` (an item pipeline raised) to the session, so an
exception nobody caught leaves the crawl not complete instead of withdrawing the
listings it did not reach.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.python.failure import Failure


class CrawlSession(Protocol):
    """What fetchers and Scrapy's error signals call during a crawl."""

    stats: Counter[str]

    def raw_hash(self, payload: Any) -> str | None:
        """Hash of a record as fetched (None: no early skip)."""
        ...

    def skip_unchanged_raw(self, external_id: str | None, raw: str | None) -> bool:
        """True (and counted) when the record is staged unchanged and need not be yielded."""
        ...

    def page_error(self, message: str, url: str) -> None:
        """A page could not be fetched or read: the crawl is not complete."""
        ...

    def record_error(
        self,
        message: str,
        url: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        """A fetcher could not read one record: scraped and invalid; not complete."""
        ...

    def item_error(self, message: str, url: str, *, external_id: str | None = None) -> None:
        """An item pipeline raised on ``item``: counted once as invalid; not complete."""
        ...

    def mark_cut_short(self, reason: str) -> None:
        """The crawl stops before the source's end: not complete."""
        ...


def session_of(crawler: Crawler | None) -> CrawlSession | None:
    """The session ``crawler`` reports to, or None (a spider without a source)."""
    session: CrawlSession | None = getattr(crawler, "dmo_session", None)
    return session


def _first_line(failure: Failure) -> str:
    text = str(failure.value).strip()
    name = failure.type.__name__ if failure.type is not None else "error"
    return f"{name}: {text.splitlines()[0]}" if text else name


def attach(crawler: Crawler, session: CrawlSession) -> None:
    """Make ``session`` the crawl's session and report Scrapy's error signals to it.

    ``spider_error`` becomes a page error naming the page's URL (the start URL when
    ``start()`` raised); ``item_error`` a record error (stage ``pipeline``) naming the
    record. Either way the crawl is not complete, so nothing is withdrawn.
    """
    crawler.dmo_session = session  # type: ignore[attr-defined]

    def spider_error(failure: Failure, response: Any, spider: Any) -> None:
        if response is None:  # start() raised
            session.page_error(
                f"the spider's start() raised {_first_line(failure)}; the start requests "
                "after it were not made",
                getattr(spider, "start_url", ""),
            )
            return
        # a response, or the download failure of an errback that raised
        request = getattr(response, "request", None)
        url = str(getattr(response, "url", None) or getattr(request, "url", ""))
        session.page_error(
            f"the spider raised {_first_line(failure)}; the rest of the page is not read", url
        )

    def item_error(item: Any, response: Any, spider: Any, failure: Failure) -> None:
        session.item_error(
            f"an item pipeline raised {_first_line(failure)}",
            getattr(item, "url", None) or getattr(response, "url", None) or "",
            external_id=getattr(item, "external_id", None),
        )

    def item_dropped(exception: BaseException) -> None:
        # The traceback of a dropped record's DropItem runs through Scrapy's frames, which
        # hold the page's response, in a reference cycle: with the crawl's rare full garbage
        # collections (pipelines.CRAWL_GC_THRESHOLDS) every invalid record kept its page
        # until the crawl ended (issue 16). A drop is a decision, not an error: no traceback.
        exception.__traceback__ = None

    crawler.signals.connect(spider_error, signal=signals.spider_error, weak=False)
    crawler.signals.connect(item_error, signal=signals.item_error, weak=False)
    crawler.signals.connect(item_dropped, signal=signals.item_dropped, weak=False)
