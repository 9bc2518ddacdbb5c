"""Pagination recognised from the first page: a ``Link`` header, a next link in the body,
page or offset parameters in the URL, and a page count beside them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pipeline_core.drafting.lexicon import fold

#: Keys (folded, without separators) that hold the next page's URL.
_NEXT_KEYS = frozenset(
    "next nextpage nextlink nexturl nextpageurl next_page odata.nextlink".split()
)
_TOTAL_KEYS = frozenset("totalpages pages pagecount numberofpages lastpage".split())
_PAGE_PARAMS = ("page", "pagenumber", "p", "pagina", "seite", "pageindex")
_OFFSET_PARAMS = ("offset", "start", "skip", "from")
_SIZE_PARAMS = ("per_page", "pagesize", "page_size", "limit", "size", "rows", "count")
_LINK_NEXT = re.compile(r'<[^>]+>\s*;[^,]*rel="?next"?', re.IGNORECASE)


def _squash(key: str) -> str:
    return fold(key).replace("_", "").replace("-", "")


def _scalar_paths(data: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Paths of the scalars of a JSON document outside its lists (two levels down)."""
    out: list[tuple[str, Any]] = []
    if not isinstance(data, dict) or depth > 2:
        return out
    for key, value in data.items():
        if "." in key:
            continue
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            if _squash(key) in _NEXT_KEYS and isinstance(value.get("href"), str):
                out.append((f"{path}.href", value["href"]))
            out.extend(_scalar_paths(value, path, depth + 1))
        elif not isinstance(value, list):
            out.append((path, value))
    return out


def detect(
    url: str, link_header: str, document: Any, fmt: str, records_path: str | None
) -> tuple[dict[str, Any], str]:
    """(the ``pagination`` of the draft, why), ``{type: none}`` when nothing says there
    are more pages."""
    if link_header and _LINK_NEXT.search(link_header):
        return {"type": "link_header"}, "the response has a Link header with rel=next"
    if fmt == "json" and isinstance(document, dict):
        scalars = _scalar_paths(document)
        for path, value in scalars:
            key = _squash(
                path.split(".")[-1] if not path.endswith(".href") else path.split(".")[-2]
            )
            if key in _NEXT_KEYS and (value is None or isinstance(value, str)):
                total = next(
                    (p for p, v in scalars if _squash(p.split(".")[-1]) in _TOTAL_KEYS), None
                )
                shown = f" ({value!r})" if value else ""
                why = f"{path} holds the next page's URL{shown}"
                if total:
                    why += f"; {total} counts the pages"
                return {"type": "next_link", "path": path}, why
    query = dict(parse_qsl(urlsplit(url).query))
    lowered = {k.lower(): k for k in query}
    size_param = next((lowered[s] for s in _SIZE_PARAMS if s in lowered), None)
    for param in _PAGE_PARAMS:
        if param in lowered and query[lowered[param]].isdigit():
            found: dict[str, Any] = {
                "type": "page",
                "param": lowered[param],
                "start": int(query[lowered[param]]),
            }
            if size_param and query[size_param].isdigit():
                found.update(size_param=size_param, size=int(query[size_param]))
            if fmt == "json" and isinstance(document, dict):
                total = next(
                    (
                        p
                        for p, v in _scalar_paths(document)
                        if _squash(p.split(".")[-1]) in _TOTAL_KEYS
                    ),
                    None,
                )
                if total:
                    found["total_pages_path"] = total
            return found, f"the URL counts pages with {lowered[param]}="
    for param in _OFFSET_PARAMS:
        if param in lowered and query[lowered[param]].isdigit():
            found = {"type": "offset", "param": lowered[param], "start": int(query[lowered[param]])}
            if size_param and query[size_param].isdigit():
                found.update(size_param=size_param, size=int(query[size_param]))
            return found, f"the URL moves through records with {lowered[param]}="
    return {"type": "none"}, "no next link, Link header, page or offset parameter found"
