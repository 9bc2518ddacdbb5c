"""Mapping one raw record, as a value: what :meth:`StageSession.map` and the map processes
(:mod:`pipeline_core.stages.map_processes`) both compute before the session counts it.

:func:`map_record` runs the record's mapping and, asked to (``check``), hashes and validates
the record too. It never raises: a record error or a failing transform is part of the
:class:`MapOutcome`, which pickles, so a worker process can send it back for the crawl's
session to take in (:meth:`StageSession.take_mapped`) exactly as if it had mapped the record
itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline_core.escaping import strip_record_controls
from pipeline_core.exceptions import RecordError
from pipeline_core.items import Checked
from pipeline_core.mapping import CompiledMapping
from pipeline_core.model import record_hash, validate_record

logger = logging.getLogger(__name__)

#: A kept value's reason: (external id, field, message, value) of its :class:`RecordError`.
KeptReason = tuple[str | None, str, str, Any]


@dataclass(slots=True)
class MapOutcome:
    """What mapping one raw record gave."""

    #: Whether the record's id could be read at all (a failing id path leaves it False).
    id_read: bool = False
    external_id: str | None = None
    record: dict[str, Any] | None = None
    kept: list[KeptReason] | None = None
    #: A record error: (external id, field, message, value).
    error: KeptReason | None = None
    #: A transform or mapping failure that is no record error: (message, the record's id
    #: as far as it can be read).
    failure: tuple[str, str | None] | None = None
    checked: Checked | None = None
    #: The record as JSON (``record`` is then None), as a map process sends it: the crawl's
    #: process reads it back (:meth:`take_record`) several times faster than it unpickles.
    encoded: bytes | None = None

    def encode_record(self) -> None:
        """Hold the record as JSON, when it has an exact JSON form (else as it is)."""
        if self.record is None:
            return
        try:
            self.encoded = orjson.dumps(self.record, option=_EXACT)
        except TypeError:  # a date, a tuple, a key that is no text, a 65-bit integer
            return
        self.record = None

    def take_record(self) -> dict[str, Any] | None:
        """The mapped record (read back from JSON if it was encoded)."""
        if self.encoded is not None:
            self.record, self.encoded = orjson.loads(self.encoded), None
        return self.record


#: orjson refuses what JSON would turn into something else (dates, dataclasses, subclasses
#: of str, int, dict and list), so a record read back is the record mapped.
_EXACT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _safe_id(mapping: CompiledMapping, payload: Any) -> str | None:
    """The record's id as far as it can be read, for an error row."""
    try:
        return mapping.external_id(payload)
    except Exception:
        return None


def check(record: dict[str, Any]) -> Checked:
    """Hash and validate a mapped record."""
    try:
        digest, reason = record_hash(record), None
    except (TypeError, ValueError) as exc:
        digest, reason = None, str(exc)
    issues = [(issue.field, issue.message) for issue in validate_record(record)]
    return Checked(digest, reason, issues)


def map_record(
    mapping: CompiledMapping, payload: Any, external_id: str | None, *, checks: bool = False
) -> MapOutcome:
    """Map one raw record (``external_id`` as the fetcher read it, else the mapping reads
    it); with ``checks``, hash and validate the record as well."""
    out = MapOutcome()
    try:
        external_id = external_id or mapping.external_id(payload)
        out.id_read, out.external_id = True, external_id
        kept: list[RecordError] = []
        record = mapping.apply(payload, external_id, kept)
        emptied = strip_record_controls(record)
        if emptied is not None:
            raise RecordError(
                mapping.source,
                external_id,
                emptied,
                "holds only control characters (a binary or garbled value); not staged",
            )
    except RecordError as exc:
        out.error = (exc.external_id, exc.field, exc.message, exc.value)
        return out
    except Exception as exc:  # a transform or a mapping that met what it did not expect
        logger.debug("%s: mapping a record failed", mapping.source, exc_info=True)
        out.failure = (
            f"the record could not be mapped: {type(exc).__name__}: {exc}",
            external_id or _safe_id(mapping, payload),
        )
        return out
    out.record = record
    out.kept = [(r.external_id, r.field, r.message, r.value) for r in kept]
    if checks:
        out.checked = check(record)
    return out
