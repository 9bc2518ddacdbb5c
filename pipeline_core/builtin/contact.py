"""Contact transforms: ``email`` (syntax checked by ``email-validator``, no DNS) and
``clean_url`` (the ``url`` transform plus ``w3lib`` escaping and tracking parameters
dropped)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from email_validator import EmailNotValidError, validate_email
from w3lib.url import safe_url_string

from pipeline_core.builtin.transforms import url
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

_SEVERAL = re.compile(r"[\s;,/]+")
#: Query parameters that track a click rather than name a page.
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|"
    r"_ga|_gl|igshid|twclid|li_fat_id|wickedid|ref_src|srsltid)$",
    re.IGNORECASE,
)


def email(value: Any) -> str:
    """An e-mail address, its domain lower-cased (and IDN-normalised); ``mailto:`` and
    ``<...>`` are dropped and of several addresses the first is taken. The syntax is
    checked (``email-validator``); the domain is not looked up."""
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :].split("?", 1)[0]
    text = text.strip("<> ")
    parts = [part for part in _SEVERAL.split(text) if part]
    if not parts:
        raise ValueError("not an e-mail address")
    try:
        return validate_email(parts[0], check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address ({str(exc).rstrip('.')})") from None


def clean_url(value: Any, keep_fragment: bool = True) -> str:
    """The ``url`` transform, then: unsafe characters percent-escaped (``w3lib``),
    tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``msclkid``, ``_ga`` …)
    dropped, an empty query or fragment removed; ``keep_fragment: false`` drops the
    ``#…`` part."""
    text = safe_url_string(url(value))
    parts = urlsplit(text)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _TRACKING.match(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept, safe="/:@,")
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit(parts._replace(query=query, fragment=fragment))


@hookimpl
def register_transforms() -> list[Transform]:
    """The contact transforms."""
    return [
        Transform("email", email, email.__doc__ or "", cacheable=True),
        Transform("clean_url", clean_url, clean_url.__doc__ or "", cacheable=True),
    ]
