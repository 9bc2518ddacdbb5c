"""The first page of a new source, fetched under the URL policy, and read into records.

A URL is fetched once with :func:`pipeline_core.checked_http.checked_opener` after
:func:`pipeline_core.urlpolicy.check_url` (the same policy the fetchers obey: private
addresses only for hosts of ``PIPELINE_ALLOWED_HOSTS``), no redirect followed, at most
:data:`MAX_BYTES`. A file is read from disk. The body is then read the way the fetcher
that will crawl it reads it: CSV with :mod:`pipeline_core.records.csv_read` (encoding and
delimiter detected), XML with :mod:`pipeline_core.records.xml_read` (no entity resolved),
JSON-LD with the ``jsonld`` fetcher's item rules.
"""

from __future__ import annotations

import csv
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from lxml import etree

from pipeline_core.checked_http import checked_opener
from pipeline_core.exceptions import PipelineError
from pipeline_core.mapping import make_getter
from pipeline_core.records.csv_read import (
    as_record,
    detect_encoding,
    iter_rows,
    open_text,
    sniff_delimiter,
)
from pipeline_core.records.xml_read import Namer, UnsafeXML, iter_records
from pipeline_core.urlpolicy import URLPolicyError, check_url

#: Largest first page read (bytes).
MAX_BYTES = 20 * 1024 * 1024
TIMEOUT = 30.0
FORMATS = ("json", "xml", "csv", "html", "jsonld")
#: A JSON document (or list) whose first item starts with a linked-data key.
_LINKED_DATA = re.compile(rb'^\[?\s*\{\s*"@(?:id|type)"')


class DraftError(PipelineError):
    """The source could not be fetched or read; the message names it and why."""


@dataclass
class Sample:
    """A fetched first page: where it came from and what it said."""

    location: str
    body: bytes
    content_type: str = ""
    link_header: str = ""
    is_url: bool = True


@dataclass
class Records:
    """Records read from a sample, and how (every decision said, for the draft's comments)."""

    fmt: str
    records: list[Any]
    #: Fetcher-level keys of the draft: records, options, pagination.
    records_path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    document: Any = None
    total: int = 0


def fetch_sample(source: str, allowed_hosts: tuple[str, ...] = ()) -> Sample:
    """The body of ``source`` (an http(s) URL or a file path), refusing what the URL
    policy refuses."""
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        try:
            check_url(source, allowed_hosts)
        except URLPolicyError as exc:
            raise DraftError(f"{source}: refused by the URL policy: {exc}") from None
        request = urllib.request.Request(
            source, headers={"User-Agent": "dmo-pipeline new-source", "Accept": "*/*"}
        )
        try:
            with checked_opener(allowed_hosts).open(request, timeout=TIMEOUT) as response:
                body = response.read(MAX_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
                link = response.headers.get("Link", "")
        except urllib.error.HTTPError as exc:
            exc.close()  # the error holds the response and its socket
            raise DraftError(f"{source}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DraftError(f"{source}: could not fetch: {reason}") from None
        if len(body) > MAX_BYTES:
            body = body[:MAX_BYTES]
        return Sample(source, body, content_type, link, True)
    path = Path(source[len("file://") :] if scheme == "file" else source)
    try:
        data = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise DraftError(f"{source}: could not read: {exc.strerror or exc}") from None
    return Sample(str(path.resolve()), data[:MAX_BYTES], "", "", False)


def sniff_format(sample: Sample) -> tuple[str, str]:
    """(format, why): from the content type, the name's extension, then the first bytes."""
    ctype = sample.content_type.split(";")[0].strip().lower()
    by_type = {
        "application/ld+json": "jsonld",
        "application/json": "json",
        "text/json": "json",
        "text/csv": "csv",
        "application/xml": "xml",
        "text/xml": "xml",
        "application/atom+xml": "xml",
        "application/rss+xml": "xml",
        "text/html": "html",
    }
    head = sample.body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if ctype in by_type:
        fmt = by_type[ctype]
        if fmt == "json" and b'"@context"' in sample.body[:65536]:
            return "jsonld", f"Content-Type {ctype} with an @context"
        return fmt, f"Content-Type {ctype}"
    suffix = Path(urlsplit(sample.location).path).suffix.lower()
    if head[:1] in (b"{", b"["):
        if b'"@context"' in sample.body[:65536]:
            return "jsonld", "a JSON document with an @context"
        if _LINKED_DATA.match(head):
            return "jsonld", "a JSON document of linked-data items (@id first)"
        return "json", "the body starts like JSON"
    if head[:1] == b"<":
        lowered = head[:512].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered:
            return "html", "the body is an HTML page"
        return "xml", "the body starts like XML"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv", f"the name ends in {suffix}"
    return "csv", "the body is neither JSON, XML nor HTML: read as CSV"


def read_records(sample: Sample, fmt: str, limit: int, records_path: str | None = None) -> Records:
    """The first ``limit`` records of the sample, read as ``fmt`` (from ``records_path``
    when given: a JSON path or an XML element name; found otherwise)."""
    if records_path is not None and fmt == "json":
        data = _load_json(sample)
        found = make_getter(records_path)(data)
        items = found if isinstance(found, list) else []
        return Records("json", items[:limit], records_path, document=data, total=len(items))
    if records_path is not None and fmt == "xml":
        records = []
        for record in iter_records(sample.body, [records_path], Namer()):
            records.append(record)
            if len(records) >= limit:
                break
        return Records("xml", records, records_path, total=len(records))
    readers = {
        "json": _read_json,
        "jsonld": _read_jsonld,
        "xml": _read_xml,
        "csv": _read_csv,
        "html": _read_html,
    }
    return readers[fmt](sample, limit)


def _load_json(sample: Sample) -> Any:
    try:
        return orjson.loads(sample.body)
    except orjson.JSONDecodeError as exc:
        raise DraftError(f"{sample.location}: not valid JSON: {exc}") from None


def record_lists(data: Any, path: str = "", depth: int = 0) -> list[tuple[str, list[Any]]]:
    """Every list of objects in a JSON document with its path (``$`` for the document)."""
    found: list[tuple[str, list[Any]]] = []
    if depth > 4:
        return found
    if isinstance(data, list):
        if data and sum(isinstance(x, dict) for x in data) >= max(1, len(data) // 2):
            found.append((path or "$", data))
        return found
    if isinstance(data, dict):
        for key, value in data.items():
            if "." in key:
                continue
            found.extend(record_lists(value, f"{path}.{key}" if path else key, depth + 1))
    return found


def _read_json(sample: Sample, limit: int) -> Records:
    data = _load_json(sample)
    lists = record_lists(data)
    if not lists:
        if isinstance(data, dict):
            return Records("json", [data], "$", notes=["the document is one record"], document=data)
        raise DraftError(f"{sample.location}: no list of objects in the JSON document")
    # the longest list wins; of lists as long, the shallowest
    path, items = max(lists, key=lambda pl: (len(pl[1]), -pl[0].count(".")))
    records = [x for x in items if isinstance(x, dict)]
    why = f"the longest list of objects in the document ({len(records)} objects)"
    if len(lists) > 1:
        others = ", ".join(p for p, _ in lists if p != path)[:200]
        why += f"; other lists: {others}"
    return Records("json", records[:limit], path, notes=[why], document=data, total=len(records))


def _read_html(sample: Sample, limit: int) -> Records:
    """A page's schema.org items (JSON-LD, microdata), read as the ``jsonld`` fetcher
    reads pages; a page without any needs the ``html`` fetcher's selectors."""
    import extruct

    text = sample.body.decode("utf-8", errors="replace")
    try:
        found = extruct.extract(
            text, base_url=sample.location, syntaxes=["json-ld", "microdata"], uniform=True
        )
    except ValueError as exc:
        raise DraftError(
            f"{sample.location}: the page's structured data cannot be read: {exc}"
        ) from None
    data = [found.get("json-ld", []), found.get("microdata", [])]
    records = _read_jsonld(sample, limit, data)
    if not records.records:
        raise DraftError(
            f"{sample.location}: an HTML page without schema.org items (JSON-LD or "
            "microdata); its listings need the html fetcher's selectors, written by hand "
            "(docs/reference/fetchers.md#html)"
        )
    records.notes = [f"{records.total} schema.org items in the page (JSON-LD, microdata)"]
    return records


def _read_jsonld(sample: Sample, limit: int, data: Any = None) -> Records:
    from pipeline_core.builtin.jsonld import PAGE_TYPES, _items
    from pipeline_core.builtin.schema_org import normalise, types_of

    if data is None:
        data = _load_json(sample)
    items = [normalise(i) for i in _items(data)]
    records = [i for i in items if not set(types_of(i)) <= PAGE_TYPES]
    return Records(
        "jsonld",
        records[:limit],
        None,
        notes=[f"{len(records)} JSON-LD items (lists and @graph unpacked)"],
        document=data,
        total=len(records),
    )


def _read_xml(sample: Sample, limit: int) -> Records:
    """Records are the most repeated element under the root (of those with children), of the
    outermost repeated ones."""
    try:
        root = etree.fromstring(
            sample.body,
            etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True),
        )
    except etree.XMLSyntaxError as exc:
        raise DraftError(f"{sample.location}: not well-formed XML: {exc}") from None
    if root is None:
        raise DraftError(f"{sample.location}: an empty XML document")
    name = Namer()
    counts: Counter[str] = Counter()
    depth_of: dict[str, int] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element) == 0 or element is root:
            continue
        tag = name(element.tag)
        counts[tag] += 1
        depth = sum(1 for _ in element.iterancestors())
        depth_of[tag] = min(depth_of.get(tag, depth), depth)
    if not counts:
        raise DraftError(f"{sample.location}: no repeated element with children in the XML")
    # An element repeated inside a repeated element (the <media> of each <service>) is part
    # of a record, not one: only the outermost repeated elements are candidates.
    outermost = {
        name(element.tag)
        for element in root.iter()
        if isinstance(element.tag, str)
        and len(element)
        and element is not root
        and counts[name(element.tag)] > 1
        and not any(
            counts.get(name(a.tag), 0) > 1
            for a in element.iterancestors()
            if isinstance(a.tag, str) and a is not root
        )
    }
    tag = max(outermost or counts, key=lambda t: (counts[t], -depth_of[t], t))
    try:
        records = []
        for record in iter_records(sample.body, [tag], name):
            records.append(record)
            if len(records) >= limit:
                break
    except (UnsafeXML, etree.XMLSyntaxError) as exc:
        raise DraftError(f"{sample.location}: {exc}") from None
    return Records(
        "xml",
        records,
        tag,
        notes=[f"<{tag}> is the most repeated element with children ({counts[tag]} times)"],
        document=root,
        total=counts[tag],
    )


def _same_text(body: bytes, encoding: str) -> bool:
    """True when ``body`` reads the same in ``encoding`` and in Windows-1252 (the
    Western European code page is the likelier name of the two)."""
    try:
        return body.decode(encoding) == body.decode("cp1252")
    except (UnicodeDecodeError, LookupError):
        return False


def _read_csv(sample: Sample, limit: int) -> Records:
    encoding, skip, how = detect_encoding(sample.body)
    if how == "detected" and encoding != "cp1252" and _same_text(sample.body, encoding):
        how = f"detected as {encoding}, which reads this sample as cp1252 does"
        encoding = "cp1252"
    notes = [f"encoding {encoding} ({how})"]
    text = open_text(sample.body, encoding, skip)
    try:
        head = text.read(64 * 1024)
    except UnicodeDecodeError as exc:
        raise DraftError(f"{sample.location}: not valid {encoding}: {exc.reason}") from None
    text.seek(0)
    delimiter = sniff_delimiter(head)
    notes.append(f"delimiter {delimiter!r} (sniffed from the first 64 KiB)")
    options: dict[str, Any] = {"encoding": encoding, "delimiter": delimiter}
    try:
        rows = iter_rows(text, delimiter, '"', 0)
        first = next(rows, None)
        if first is None:
            raise DraftError(f"{sample.location}: no header row")
        header = [h.strip() for h in first.fields]
        records: list[Any] = []
        total = 0
        for row in rows:
            total += 1
            if len(records) < limit and len(row.fields) == len(header):
                records.append(as_record(header, row.fields))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DraftError(f"{sample.location}: not readable as CSV: {exc}") from None
    return Records("csv", records, None, options, notes, header, total)
