"""Address parts: ``country`` (a name or code to ISO 3166-1 alpha-2, with ``pycountry``'s
names) and ``postal_code`` (cleaned, and checked for the countries it knows)."""

from __future__ import annotations

import re
from typing import Any

import pycountry

from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform, TransformContext

#: Names pycountry does not know: local names and the ones tourism feeds use.
_ALIASES = {
    "republic of ireland": "IE", "éire": "IE", "eire": "IE", "irlande": "IE", "irland": "IE",
    "northern ireland": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "uk": "GB",
    "great britain": "GB", "deutschland": "DE", "allemagne": "DE", "germania": "DE",
    "österreich": "AT", "osterreich": "AT", "autriche": "AT", "schweiz": "CH", "suisse": "CH",
    "svizzera": "CH", "italia": "IT", "italien": "IT", "italie": "IT", "frankreich": "FR",
    "francia": "FR", "españa": "ES", "espana": "ES", "nederland": "NL", "belgique": "BE",
    "belgië": "BE", "portugal": "PT",
}  # fmt: skip

#: Postal code shapes (after upper-casing and folding spaces) and how to write them.
_POSTAL: dict[str, tuple[re.Pattern[str], str]] = {
    "IE": (re.compile(r"^([AC-FHKNPRTV-Y]\d{2}|D6W) ?([0-9AC-FHKNPRTV-Y]{4})$"), r"\1 \2"),
    "GB": (re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$"), r"\1 \2"),
    "NL": (re.compile(r"^(\d{4}) ?([A-Z]{2})$"), r"\1 \2"),
    "FR": (re.compile(r"^(\d{5})$"), r"\1"),
    "DE": (re.compile(r"^(\d{5})$"), r"\1"),
    "IT": (re.compile(r"^(\d{5})$"), r"\1"),
    "ES": (re.compile(r"^(\d{5})$"), r"\1"),
    "AT": (re.compile(r"^(\d{4})$"), r"\1"),
    "CH": (re.compile(r"^(\d{4})$"), r"\1"),
    "BE": (re.compile(r"^(\d{4})$"), r"\1"),
    "PT": (re.compile(r"^(\d{4})-?(\d{3})$"), r"\1-\2"),
}


def country(value: Any) -> str:
    """ISO 3166-1 alpha-2 code of a country code (alpha-2 or alpha-3) or name, in English
    (``pycountry``) or a common local name (``Deutschland``, ``Éire``); ``Northern
    Ireland`` is ``GB``."""
    text = " ".join(str(value).split())
    alias = _ALIASES.get(text.casefold())
    if alias:
        return alias
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        raise ValueError(f"not a country: {text!r}") from None


def postal_code(
    value: Any, context: TransformContext | None = None, country: str | None = None
) -> str:
    """A postal code, upper-cased with its spaces folded; for IE (Eircode), GB, NL, FR,
    DE, IT, ES, AT, CH, BE and PT checked and written the national way (``d02af30`` →
    ``D02 AF30``). The country is ``country``, else the source's ``defaults.country``."""
    text = " ".join(str(value).split()).upper()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    code = (country or (context.defaults.get("country") if context else None) or "").upper()
    if code in _POSTAL:
        pattern, form = _POSTAL[code]
        match = pattern.match(text.replace(" ", ""))
        if not match:
            raise ValueError(f"not a postal code of {code}: {text!r}")
        return match.expand(form)
    if not text:
        raise ValueError("empty postal code")
    return text


@hookimpl
def register_transforms() -> list[Transform]:
    """The address transforms."""
    return [
        Transform("country", country, country.__doc__ or "", cacheable=True),
        Transform("postal_code", postal_code, postal_code.__doc__ or "", cacheable=True),
    ]
