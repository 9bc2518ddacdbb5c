"""Reading CSV exports as they come: encoding, delimiter and ragged rows.

The encoding is the declared one, else found from a byte order mark, else UTF-8 when the
whole body is valid UTF-8, else guessed with charset-normalizer, leaning to Windows-1252
(:func:`guess_encoding`). A UTF-8 mark before text that is not UTF-8 (an export tool
that wrote the mark over Latin-1 text) is dropped and the text detected. Rows are read as
a stream.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Delimiters the sniffer chooses from.
DELIMITERS = ",;\t|"


def _valid_utf8(data: bytes, chunk: int = 1 << 20) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(data[start : start + chunk], final=start + chunk >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(body: bytes) -> tuple[str, int, str]:
    """(encoding, bytes of the byte order mark to skip, how it was found)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            if encoding != "utf-8" or _valid_utf8(body[len(bom) :]):
                return encoding, len(bom), "byte order mark"
            guessed, _, how = detect_encoding(body[len(bom) :])
            return guessed, len(bom), f"{how}; the UTF-8 byte order mark was wrong"
    if _valid_utf8(body):
        return "utf-8", 0, "valid UTF-8"
    return guess_encoding(body[: 1 << 20]), 0, "detected"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def guess_encoding(data: bytes) -> str:
    """charset-normalizer's guess for text that is not UTF-8, leaning to Windows-1252.

    On the short, mostly ASCII samples a CSV export gives, several code pages decode equally
    well (``Crème`` is ``Crčme`` in Windows-1250), and a guess with no language behind it
    is noise (``Dún`` read as Big5). Windows-1252 (a superset of Latin-1's printable
    characters) is taken when it decodes the text and is as likely as the best guess, or
    when the best guess recognises no language.
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    western = _decodes(data, "cp1252")
    if best is None:
        return "cp1252" if western else "latin-1"
    if western:
        same = next((m for m in matches if m.encoding == "cp1252"), None)
        if (same is not None and same.chaos <= best.chaos) or best.coherence == 0:
            return "cp1252"
    return str(best.encoding)


def sniff_delimiter(sample: str) -> str:
    """The delimiter of ``sample`` among :data:`DELIMITERS`, or ``,``."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


@dataclass
class Row:
    """One data row: its first line number, its fields, and the header's length."""

    line: int
    fields: list[str]


def iter_rows(
    text: io.TextIOBase, delimiter: str, quotechar: str, skip_lines: int
) -> Iterator[Row]:
    """Rows of ``text`` with the line each starts on; blank lines are skipped.

    Text the csv module cannot read (a field longer than ``csv.field_size_limit()``) raises
    :class:`csv.Error` with the line it was found on: ``line 17: field larger than …``.
    """
    for _ in range(skip_lines):
        if not text.readline():
            return
    reader = csv.reader(text, delimiter=delimiter, quotechar=quotechar, strict=False)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise csv.Error(f"line {reader.line_num + skip_lines}: {exc}") from exc
        start, last = last + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield Row(start + skip_lines, fields)


def open_text(body: bytes, encoding: str, skip: int) -> io.TextIOWrapper:
    """A text stream over ``body`` from byte ``skip`` (undecodable bytes raise as read)."""
    return io.TextIOWrapper(io.BytesIO(body[skip:]), encoding=encoding, newline="")


def as_record(header: list[str], fields: list[str]) -> dict[str, Any]:
    """Column name → value (missing columns are left out)."""
    return dict(zip(header, fields, strict=False))
