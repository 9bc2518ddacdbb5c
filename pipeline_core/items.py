"""Items that travel through the stages: raw records in, mapped listings out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RawRecord:
    """One record as a fetcher found it: its source, id, payload and the URL it came from."""

    source: str
    external_id: str | None
    payload: Any
    url: str = ""
    raw_hash: str | None = None
    #: The record's place in the crawl as read (1 for the first), 0 when not counted.
    position: int = 0


@dataclass(slots=True)
class Checked:
    """A mapped record's hash and schema issues, computed where it was mapped (a map
    process, :mod:`pipeline_core.stages.map_processes`)."""

    record_hash: str | None
    #: Why the record has no hash (no canonical JSON form), else None.
    hash_error: str | None
    #: The schema's issues: (field, message).
    issues: list[tuple[str, str]]


@dataclass(slots=True)
class ListingItem:
    """A mapped canonical record on its way to staging.

    ``state`` is ``new`` until the hash stage compares it with what is staged:
    ``changed`` (insert or update) or ``unchanged`` (nothing to write), or ``invalid``
    when the record cannot be hashed (it has no canonical JSON form).
    """

    source: str
    external_id: str
    record: dict[str, Any]
    url: str = ""
    record_hash: str = ""
    raw_hash: str | None = None
    state: str = "new"
    #: The record's current warnings (values kept as published or left out), staged with
    #: it: ``{"field", "message", "value"}`` objects, or None.
    warnings: list[dict[str, Any]] | None = None
    #: The record's place in its crawl (1 for the first scraped), naming it in reports.
    position: int = 0
    #: True when an earlier record of the crawl had the same id (see ``on_repeat``).
    repeat: bool = False
    #: The record's hash and schema issues, computed where it was mapped (a map process);
    #: None when the hash and validate stages are to compute them.
    checked: Checked | None = None
