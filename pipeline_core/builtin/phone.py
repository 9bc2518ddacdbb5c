"""The ``phone`` transform: phone numbers to E.164 with Google's libphonenumber rules.

Parsing and validation are the ``phonenumbers`` library's (a port of libphonenumber, with
its metadata for every region); this module only splits a messy cell into candidates.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from pipeline_core.exceptions import DroppedValueError, PartialTransformError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform, TransformContext

#: Labels before a number: "Tel:", "Tél.", "Phone", "Mobile:", "T:" ...
_LABEL = re.compile(
    r"^\s*(?:tel(?:ephone)?|tél(?:éphone)?|phone|mobile?|mob|cell|fon|telefon|handy|"
    r"cellulare|portable|t|m|p)\.?\s*[:.]?\s*(?=[+(\d])",
    re.IGNORECASE,
)
#: Where one cell holds several numbers.
_SEPARATORS = re.compile(r"\s*(?:[/;,|\n]|\bor\b|\boder\b|\bou\b|\bo\b)\s*", re.IGNORECASE)
#: The number part of a candidate: digits, spaces, + ( ) . - and an extension.
_NUMBER = re.compile(
    r"\+?[\d\s().\-]*\d(?:\s*(?:ext\.?|extension|x|#|poste|durchwahl|dw\.?)\s*\d+)?",
    re.IGNORECASE,
)
#: "+353 (0)91" and "+00353(0)91": the trunk 0 in brackets after a country code, and a
#: doubled international prefix.
_TRUNK = re.compile(r"^(\+\d{1,3})\s*\(0\)")
_DOUBLE_PREFIX = re.compile(r"^\+\s*00")
_PLUS_TRUNK = re.compile(r"^\+\s*\(0\)")  # "+(0)86...": a national number after all


def _region(region: str | None, context: TransformContext | None) -> str | None:
    if region:
        return region.upper()
    if context is None:
        return None
    chosen = context.defaults.get("phone_region") or context.defaults.get("country")
    return str(chosen).upper() if chosen else None


def _candidates(text: str) -> list[str]:
    out = []
    for part in _SEPARATORS.split(text):
        part = _LABEL.sub("", part)
        match = _NUMBER.search(part)
        if match:
            number = _PLUS_TRUNK.sub("0", _DOUBLE_PREFIX.sub("+", match.group(0).strip()))
            out.append(_TRUNK.sub(r"\1", number))
    return out


def _e164(number: phonenumbers.PhoneNumber) -> str:
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{text};ext={number.extension}" if number.extension else text


def phone(
    value: Any,
    context: TransformContext | None = None,
    region: str | None = None,
    invalid: str = "error",
) -> str:
    """A phone number in E.164 (``+35391658108``), an extension as ``;ext=238``.

    National numbers are read in ``region``, else the source's ``defaults.phone_region``,
    else its ``defaults.country``. Labels (``Tel:``) are dropped, a bracketed trunk
    ``(0)`` after the country code and a doubled ``+00`` prefix are repaired; of several
    numbers in one cell (``/``, ``;``, ``,``, "or") the first valid one is taken.
    ``invalid: keep`` keeps text without a valid number as published and reports it;
    ``invalid: drop`` leaves the field out and reports it.
    """
    if invalid not in ("error", "keep", "drop"):
        raise ValueError("invalid must be error, keep or drop")
    text = str(value).strip()
    chosen = _region(region, context)
    candidates = _candidates(text)
    reason = "no phone number in the text"
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, chosen)
        except phonenumbers.NumberParseException as exc:
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
                reason = (
                    "a national number, but no region (set defaults.phone_region)"
                    if chosen is None
                    else "unknown country code"
                )
            else:
                reason = "not a phone number"
            continue
        if phonenumbers.is_valid_number(number):
            return _e164(number)
        # an invalid number has no region of its own, but its country code names one:
        # "+44 20 7946 000" is not valid in GB, whatever the source's region
        where = (
            phonenumbers.region_code_for_number(number)
            or phonenumbers.region_code_for_country_code(number.country_code or 0)
            or chosen
            or "any region"
        )
        if where == "ZZ":
            where = chosen or "any region"
        reason = f"not a valid phone number in {where}"
    if invalid == "keep":
        raise PartialTransformError(reason, " ".join(text.split()))
    if invalid == "drop":
        raise DroppedValueError(reason)
    raise ValueError(reason)


@hookimpl
def register_transforms() -> list[Transform]:
    """The ``phone`` transform."""
    return [Transform("phone", phone, phone.__doc__ or "", cacheable=True)]
