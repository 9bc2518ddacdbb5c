"""``invalid: keep | drop | error`` on any transform that checks a value.

A transform raises ``ValueError`` (or :class:`TransformError`) for a value it cannot
read. With ``invalid: keep`` the value is kept as published (text with its spaces
folded) and with ``invalid: drop`` the field is left out; either way the reason is a
warning row of the record, never a silent change. Transforms that handle ``invalid``
themselves (``phone``) are passed the argument instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs

from pipeline_core.exceptions import DroppedValueError, PartialTransformError, TransformError

#: The choices of ``invalid``; ``error`` (the default) rejects the record.
INVALID_CHOICES = ("error", "keep", "drop")


def as_published(value: Any) -> Any:
    """What ``invalid: keep`` keeps: text with its whitespace folded, other values as
    they are."""
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def fits_check(schema: dict[str, Any] | None) -> Callable[[Any], bool] | None:
    """A test that a kept value fits the canonical field's schema (type, pattern, format,
    range), or None when the schema cannot be checked on its own."""
    if not schema:
        return None
    try:
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    except (ValueError, jsonschema_rs.ValidationError):  # a $ref to elsewhere
        return None
    return validator.is_valid


def with_invalid(
    call: Callable[[Any], Any], mode: str, fits: Callable[[Any], bool] | None = None
) -> Callable[[Any], Any]:
    """``call`` whose refusals keep or drop the value (``mode``) with a warning. A value
    that ``fits`` says the field cannot hold (text in a number) is dropped, not kept."""
    if mode == "error":
        return call

    def checked(value: Any) -> Any:
        try:
            return call(value)
        except PartialTransformError:
            raise
        except (TransformError, ValueError, TypeError) as exc:
            if mode == "keep":
                kept = as_published(value)
                if fits is None or fits(kept):
                    raise PartialTransformError(str(exc), kept) from None
                raise DroppedValueError(
                    f"{exc}, and the field cannot hold it as published"
                ) from None
            raise DroppedValueError(str(exc)) from None

    return checked
