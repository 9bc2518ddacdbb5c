"""Crawl a source without writing anything: ``dmo-pipeline preview``.

The crawl runs the source's spider as usual, but with one item pipeline,
:class:`PreviewPipeline`, in place of map → hash → validate → stage-write: each record is
mapped and validated in memory (:func:`pipeline_core.stages.preview.preview_record`) and
collected. No database is opened, no feed or file is written, nothing is withdrawn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler

from pipeline_core.items import RawRecord
from pipeline_core.scrapy.reporting import attach
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.stages.preview import RecordPreview, preview_record


@dataclass
class PreviewSession:
    """What a spider reports during a preview (it stands in for the stage session:
    :class:`pipeline_core.scrapy.reporting.CrawlSession`)."""

    limit: int | None = None
    records: list[RecordPreview] = field(default_factory=list)
    page_errors: list[tuple[str, str]] = field(default_factory=list)
    cut_short: str | None = None
    stats: Counter[str] = field(default_factory=Counter)

    def raw_hash(self, payload: Any) -> None:
        """No raw hashes: nothing is compared with staging."""
        return None

    def skip_unchanged_raw(self, external_id: str | None, raw: str | None) -> bool:
        """Every record is shown, changed or not."""
        return False

    def page_error(self, message: str, url: str) -> None:
        """A page could not be fetched or parsed."""
        self.page_errors.append((url, message))

    def record_error(
        self,
        message: str,
        url: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        """The fetcher could not read one record (a ragged CSV row): an invalid record."""
        if self.full:
            return
        self.stats["scraped"] += 1
        shown = f"fetch: {message}" + (f" (value {value!r})" if value is not None else "")
        self.records.append(RecordPreview(external_id, url, [], [(field or "(record)", shown)]))

    def item_error(self, message: str, url: str, *, external_id: str | None = None) -> None:
        """The preview pipeline raised on one record: an invalid record."""
        if not self.full:
            self.records.append(RecordPreview(external_id, url, [], [("(record)", message)]))

    def mark_cut_short(self, reason: str) -> None:
        """The fetcher stopped early (``max_pages``)."""
        self.cut_short = reason

    @property
    def full(self) -> bool:
        """True when ``limit`` records were collected."""
        return self.limit is not None and len(self.records) >= self.limit


class PreviewPipeline:
    """The only item pipeline of a preview: map and validate each raw record in memory."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PreviewPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        session: PreviewSession = self.crawler.dmo_session  # type: ignore[attr-defined]
        if not isinstance(item, RawRecord) or session.full:
            return item
        session.stats["scraped"] += 1
        mapping = get_runtime().compiled(item.source)
        session.records.append(preview_record(mapping, item.payload, item.url))
        return item


def run_preview(
    name: str, limit: int | None = None, url: str | None = None, log_level: str = "WARNING"
) -> PreviewSession:
    """Crawl source ``name`` (from ``url`` instead of its own, if given) and return the
    previewed records; stops after ``limit`` records."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    runtime = get_runtime()
    runtime.compiled(name)  # an unknown source or a broken mapping fails here
    settings = Settings()
    settings.setmodule("pipeline_core.scrapy.settings", priority="project")
    settings.set("ITEM_PIPELINES", {PreviewPipeline: 100}, priority="cmdline")
    settings.set("EXTENSIONS", {}, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("FEEDS", {}, priority="cmdline")
    if limit is not None:  # Scrapy's CloseSpider extension stops the crawl; extra items in
        settings.set("CLOSESPIDER_ITEMCOUNT", limit, priority="cmdline")  # flight are ignored
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(name)
    session = PreviewSession(limit=limit)
    attach(crawler, session)
    crawler.dmo_session_checked = True  # type: ignore[attr-defined]
    process.crawl(crawler, **({"start_url": url} if url else {}))
    process.start()
    return session
