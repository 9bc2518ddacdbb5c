"""The ``jsonld`` fetcher: schema.org items from JSON-LD or microdata in pages, or from
JSON-LD documents, mapped onto the canonical listing by a default mapping.

Pages are read with extruct (JSON-LD ``<script>`` blocks and microdata, microdata made
uniform with JSON-LD); a response that is JSON (a JSON-LD document) is parsed as it is.
No ``@context`` is ever fetched. Items in ``@graph`` and lists count one by one; those of
the ``types`` option (default: any but page furniture such as ``WebSite`` or
``BreadcrumbList``) are records, with schema.org terms normalised
(:func:`pipeline_core.builtin.schema_org.normalise`). An item without ``@id`` gets its
``url``, else the page URL (``#2`` for the second such item on a page).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
from scrapy.http import Response, TextResponse

from pipeline_core.builtin.html_pages import PAGE_OPTIONS, PageCrawlSpider
from pipeline_core.builtin.schema_org import DEFAULT_MAPPING, TRANSFORMS, normalise, types_of
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

#: Types that describe the page, not a listing: skipped unless ``types`` names them.
PAGE_TYPES = frozenset(
    (
        "WebSite WebPage CollectionPage ItemPage SearchResultsPage BreadcrumbList ItemList "
        "ListItem SiteNavigationElement WPHeader WPFooter SearchAction ImageObject VideoObject "
        "Organization Person"
    ).split()
)
SYNTAXES = ("json-ld", "microdata")


def _items(data: Any) -> Iterator[dict[str, Any]]:
    """Top-level items of JSON-LD data: lists and ``@graph`` unpacked."""
    if isinstance(data, list):
        for entry in data:
            yield from _items(entry)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _items(data["@graph"])
        else:
            yield data


class JsonLdSpider(PageCrawlSpider):
    """Fetch schema.org items from pages (JSON-LD, microdata) or JSON-LD documents."""

    fetcher_name = "jsonld"
    fetcher_help = (
        "schema.org JSON-LD or microdata in pages, or JSON-LD documents; mapped by default"
    )
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **PAGE_OPTIONS,
            "types": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "syntaxes": {
                "type": "array",
                "items": {"enum": list(SYNTAXES)},
                "minItems": 1,
                "uniqueItems": True,
            },
        },
    }
    default_mapping = DEFAULT_MAPPING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = self.fetch_options.get("types")
        self.types = frozenset(types) if types else None
        self.syntaxes: list[str] = list(self.fetch_options.get("syntaxes", SYNTAXES))

    def _wanted(self, item: dict[str, Any]) -> bool:
        kinds = types_of(item)
        if self.types is not None:
            return any(kind in self.types for kind in kinds)
        return bool(kinds) and not all(kind in PAGE_TYPES for kind in kinds)

    def _extract(self, response: Response) -> list[Any]:
        body = response.body.lstrip()
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").lower()
        if "json" in content_type or body[:1] in (b"{", b"["):
            return [orjson.loads(body)]
        if not isinstance(response, TextResponse):
            raise ValueError("neither an HTML page nor a JSON-LD document")
        import extruct

        found = extruct.extract(
            response.text,
            base_url=response.url,
            syntaxes=self.syntaxes,
            uniform=True,
            errors="strict",
        )
        return [found.get(syntax, []) for syntax in ("json-ld", "microdata")]

    def parse_detail(self, response: Response) -> Iterator[Any]:
        """The schema.org items of one page or document."""
        try:
            extracted = self._extract(response)
        except (ValueError, orjson.JSONDecodeError) as exc:
            self.report_page_error(f"no readable JSON-LD or microdata: {exc}", response.url)
            return
        position = 0
        for data in extracted:
            for raw in _items(data):
                item = normalise(raw)
                if not isinstance(item, dict) or not self._wanted(item):
                    continue
                position += 1
                if not item.get("@id"):
                    url = item.get("url")
                    own = url if isinstance(url, str) and url.strip() else None
                    item["@id"] = own or (
                        response.url if position == 1 else f"{response.url}#{position}"
                    )
                record = self.record(item, response.url)
                if record is not None:
                    yield record


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in JSON-LD / microdata fetcher."""
    return [JsonLdSpider]


@hookimpl
def register_transforms() -> list[Transform]:
    """The transforms of the jsonld fetcher's default mapping: schema_text,
    schema_category, schema_hours, schema_special_hours."""
    return list(TRANSFORMS)
