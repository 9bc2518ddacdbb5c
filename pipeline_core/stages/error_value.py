"""How a value is shown in an error or warning row (``pipeline.errors.value``, a listing's
warnings): as its ``repr``, at most :data:`MAX_VALUE` characters, secrets masked, through
:mod:`pipeline_core.masking`.

A feed's values may hold credentials (a website with ``?token=``, a URL with
``user:password@``, a ``password=`` in a text) and may be very long (a description of
100 kB): the row keeps what identifies the value, never a secret or a copy of the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline_core.exceptions import RecordError
from pipeline_core.masking import EXCERPT_LIMIT, excerpt, mask_text

#: Longest value text kept in an error or warning row (a longer one is cut, saying how long
#: the whole was).
MAX_VALUE = EXCERPT_LIMIT


def masked(text: str) -> str:
    """``text`` with the secrets it may carry replaced by ``***``
    (:func:`pipeline_core.masking.mask_text`)."""
    return mask_text(text)


def shown_value(value: Any) -> str | None:
    """The text of ``value`` for an error or warning row: its repr, bounded and masked
    (:func:`pipeline_core.masking.excerpt`)."""
    return None if value is None else excerpt(value)


def listing_warnings(kept: Sequence[RecordError]) -> list[dict[str, Any]] | None:
    """A staged listing's warnings (``staging.listings.warnings``) from the reasons of the
    values its mapping kept or left out: field, message and value as in the error rows."""
    if not kept:
        return None
    return [
        {"field": r.field, "message": masked(r.message), "value": shown_value(r.value)}
        for r in kept
    ]
