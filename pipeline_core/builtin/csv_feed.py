"""The ``csv_feed`` fetcher: CSV exports, one record per row, keyed by the header.

Encoding and delimiter are declared or detected (:mod:`pipeline_core.records.csv_read`);
quoting follows ``quotechar``. A row with more or fewer fields than the header is an
error row naming the source, its line and the record as far as it can be read; every
other row is still read. Bytes that do not decode, or text the csv module cannot read (a
field over its size limit), are a page error: the rows before are kept, the rest of the
page is not read. Files are read as a stream.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy.http import Response

from pipeline_core.hookspecs import hookimpl
from pipeline_core.records.csv_read import (
    as_record,
    detect_encoding,
    iter_rows,
    open_text,
    sniff_delimiter,
)
from pipeline_core.scrapy.pagination import URL_TYPES, PagedSpider, PageState

logger = logging.getLogger(__name__)


class CsvFeedSpider(PagedSpider):
    """Fetch CSV files: each row after the header is a record."""

    fetcher_name = "csv_feed"
    fetcher_help = "CSV exports; encoding and delimiter declared or detected; ragged rows reported"
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "encoding": {"type": "string", "minLength": 1},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
            "quotechar": {"type": "string", "minLength": 1, "maxLength": 1},
            "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "skip_lines": {"type": "integer", "minimum": 0},
        },
    }
    pagination_types = URL_TYPES

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> tuple[list[Any], str] | None:
        """An unknown ``encoding`` is a mapping error."""
        if "encoding" in options:
            try:
                codecs.lookup(options["encoding"])
            except LookupError:
                return ["encoding"], f"unknown encoding {options['encoding']!r}"
        return None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.fetch_options
        self.encoding: str | None = options.get("encoding")
        self.delimiter: str | None = options.get("delimiter")
        self.quotechar: str = options.get("quotechar", '"')
        self.columns: list[str] | None = options.get("columns")
        self.skip_lines: int = options.get("skip_lines", 0)

    def _text(self, response: Response) -> Any:
        body = response.body
        if self.encoding is not None:
            skip = len(codecs.BOM_UTF8) if body.startswith(codecs.BOM_UTF8) else 0
            return open_text(body, self.encoding, skip), self.encoding
        encoding, skip, how = detect_encoding(body)
        logger.info("%s: %s read as %s (%s)", self.name, response.url, encoding, how)
        return open_text(body, encoding, skip), encoding

    def parse(self, response: Response, state: PageState | None = None) -> Iterator[Any]:
        state = state or PageState(1, None)
        url = response.url
        text, encoding = self._text(response)
        delimiter = self.delimiter or ","
        count = 0
        try:
            if self.delimiter is None:
                sample = text.read(64 * 1024)
                text.seek(0)
                delimiter = sniff_delimiter(sample)
            rows = iter_rows(text, delimiter, self.quotechar, self.skip_lines)
            header = self.columns
            if header is None:
                first = next(rows, None)
                if first is None:
                    self.report_page_error("no header row", url)
                    return
                header = [name.strip() for name in first.fields]
            width = len(header)
            for row in rows:
                count += 1
                payload = as_record(header, row.fields)
                if len(row.fields) != width:
                    external_id = self.mapping.external_id(payload)
                    self.report_record_error(
                        f"line {row.line}: {len(row.fields)} fields where the header has "
                        f"{width}; the row is not read",
                        url,
                        external_id=external_id,
                        field=f"line {row.line}",
                        value=delimiter.join(row.fields),
                    )
                    continue
                item = self.record(payload, url)
                if item is not None:
                    yield item
        except UnicodeDecodeError as exc:
            advice = "check" if self.encoding else "declare"
            self.report_page_error(
                f"not valid {encoding} after {count} rows ({exc.reason} at byte {exc.start} "
                f"of a block); {advice} options.encoding",
                url,
            )
            return
        except csv.Error as exc:
            self.report_page_error(
                f"not readable as CSV after {count} rows: {exc}; the rest of the page is not read",
                url,
            )
            return
        yield from self.follow(self.next_page(response, state, count), state)


@hookimpl
def register_fetchers() -> list[type]:
    """The built-in CSV fetcher."""
    return [CsvFeedSpider]
