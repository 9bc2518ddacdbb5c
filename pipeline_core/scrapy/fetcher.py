"""Base class of fetchers: generic spiders built from a source's mapping."""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy

from pipeline_core.exceptions import MappingError
from pipeline_core.items import RawRecord
from pipeline_core.mapping import CompiledMapping
from pipeline_core.mapping.secrets import resolve_template
from pipeline_core.scrapy.reporting import session_of
from pipeline_core.scrapy.resolver import refusal
from pipeline_core.sources import Source

logger = logging.getLogger(__name__)


class FetcherSpider(scrapy.Spider):
    """A generic spider for one source. Subclasses set ``fetcher_name`` and ``fetcher_help``.

    The spider loader makes one subclass per source, with ``name`` and ``source`` set.
    The spider argument ``start_url`` (``-a start_url=URL``) replaces the mapping's ``url``
    for one crawl, as the test kit does to point a source at its fixture server.
    Spiders yield :class:`pipeline_core.items.RawRecord` items; a page that cannot be
    fetched or parsed is reported with :meth:`report_page_error`, never raised. An
    exception a callback does not catch is reported the same way (Scrapy's
    ``spider_error``, :mod:`pipeline_core.scrapy.reporting`), naming its page.
    """

    fetcher_name: ClassVar[str] = ""
    fetcher_help: ClassVar[str] = ""
    #: JSON Schema of the mapping's ``options`` object, checked when sources are loaded
    #: (None: not checked).
    options_schema: ClassVar[dict[str, Any] | None] = None
    #: The ``pagination.type`` values this fetcher follows (None: not checked).
    pagination_types: ClassVar[tuple[str, ...] | None] = None
    #: Top-level mapping keys this fetcher cannot do without (besides ``url``).
    required_keys: ClassVar[tuple[str, ...]] = ()
    #: A default mapping (``id``, ``fields``) under the source's own, for fetchers whose
    #: records follow a known vocabulary (``jsonld``).
    default_mapping: ClassVar[dict[str, Any] | None] = None
    source: ClassVar[Source]

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> tuple[list[Any], str] | None:
        """What the schema cannot check in ``options`` (an encoding name, a selector's
        syntax): None, or (path inside ``options``, message). Called when sources load."""
        return None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from pipeline_core.scrapy.runtime import get_runtime

        self.mapping: CompiledMapping = get_runtime().compiled(self.source.name)
        self.options: dict[str, Any] = self.source.mapping.doc
        url = kwargs.get("start_url") or self.source.mapping.resolved_url()
        if not url:
            raise MappingError(
                f"{self.source.mapping.origin}: fetcher {self.fetcher_name} needs 'url'"
            )
        self.start_url: str = url
        hosts = [str(h).lower() for h in self.options.get("allowed_hosts", [])]
        host = urlsplit(url).hostname
        if host:
            hosts.append(host.lower())
        #: The hosts this source may request (its ``url``'s and ``allowed_hosts``); requests
        #: to others are never sent (``SourceOffsiteMiddleware``).
        self.source_hosts: tuple[str, ...] = tuple(sorted(set(hosts)))
        if hosts:
            self.allowed_domains = list(self.source_hosts)

    @property
    def fetch_options(self) -> dict[str, Any]:
        """The mapping's ``options`` object (checked against :attr:`options_schema`)."""
        options: dict[str, Any] = self.options.get("options", {})
        return options

    def request_headers(self) -> dict[str, str]:
        """The mapping's ``headers``, with ``${DMO_SECRET_<DMO>__NAME}`` replaced from the
        environment (:func:`pipeline_core.mapping.secrets.resolve_template`).

        Only the source's own DMO's variables are read, and none for a stored configuration
        (the check at load refuses the others; this refuses them again for a spider built
        without that check).
        """
        mapping = self.source.mapping
        return {
            header: self._with_credentials(
                header,
                resolve_template(
                    template,
                    mapping.dmo,
                    f"{mapping.origin}: header {header}",
                    stored=mapping.base_dir is None,
                ),
            )
            for header, template in self.options.get("headers", {}).items()
        }

    def _with_credentials(self, header: str, value: str) -> str:
        """``value`` with its ``${credential:NAME}`` resolved (stored configs only)."""
        from pipeline_core.credentials import CREDENTIAL_REF, resolve_header

        if not CREDENTIAL_REF.search(value):
            return value
        from pipeline_core.config import load_settings
        from pipeline_core.db.engine import make_engine

        settings = load_settings()
        engine = make_engine(settings.database_url)
        try:
            return resolve_header(engine, settings, self.source.origin, header, value)
        finally:
            engine.dispose()

    def record(self, payload: Any, url: str) -> RawRecord | None:
        """The item to yield for one source record, or None when it is unchanged.

        Computes the external id and, during a staging crawl, the raw hash; a record whose
        raw hash equals the staged one (same payload, same mapping) is counted as unchanged
        and not yielded at all, which spares Scrapy's per-item work. Spiders should build
        their items with this method.
        """
        external_id = self.mapping.external_id(payload)
        session = session_of(self.crawler)
        if session is None:
            return RawRecord(self.source.name, external_id, payload, url)
        raw = session.raw_hash(payload)
        if session.skip_unchanged_raw(external_id, raw):
            return None
        position = getattr(session, "read", 0)  # its place in the crawl, naming repeats
        return RawRecord(self.source.name, external_id, payload, url, raw, position)

    def report_page_error(self, message: str, url: str) -> None:
        """Record that a page failed; the crawl goes on but is not complete."""
        session = session_of(self.crawler)
        if session is not None:
            session.page_error(message, url)
        else:
            logger.error("%s: page %s: %s", self.name, url, message)

    def report_record_error(
        self,
        message: str,
        url: str,
        *,
        external_id: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        """Record that one source record could not be read (a ragged CSV row): an error row
        naming it; the record counts as scraped and invalid, and the rest goes on."""
        session = session_of(self.crawler)
        if session is not None:
            session.record_error(message, url, external_id=external_id, field=field, value=value)
        else:
            logger.error("%s: record %s at %s: %s", self.name, external_id or "?", url, message)

    def report_cut_short(self, reason: str) -> None:
        """Record that the crawl stops before the source's end (not complete: no withdrawal)."""
        session = session_of(self.crawler)
        if session is not None:
            session.mark_cut_short(reason)
        self.crawler.stats.set_value("dmo/cut_short", reason)

    def on_request_error(self, failure: Any) -> None:
        """Errback: a request failed (network, HTTP status, refused URL)."""
        request = failure.request
        response = getattr(failure.value, "response", None)
        refused = refusal(urlsplit(request.url).hostname)
        if response is not None:
            message = f"HTTP {response.status} from {request.url}"
        elif refused is not None:
            message = f"refused by the URL policy when connecting: {refused}"
        else:
            message = f"{failure.type.__name__}: {failure.value}"
        self.report_page_error(message, request.url)
