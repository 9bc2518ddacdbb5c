"""Per-language text: ``languages`` cleans an object of language variants into the
canonical ``{"en": ..., "de": ...}``, ``pick_language`` takes one of them."""

from __future__ import annotations

import re
from typing import Any

from pipeline_core.builtin.transforms import clean_text, html_text
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))*$")


def _tag(key: Any) -> str:
    """``"DE"`` → ``de``, ``"pt_br"`` → ``pt-BR``, ``"zh-hant"`` → ``zh-Hant``."""
    text = str(key).strip()
    if not _TAG.match(text):
        raise ValueError(f"not a language tag: {text!r}")
    first, *rest = re.split(r"[-_]", text)
    parts = [first.lower()]
    for part in rest:
        parts.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join(parts)


def _text(value: Any, html: bool) -> str:
    if isinstance(value, list):
        value = next((v for v in value if v is not None and str(v).strip()), "")
    if value is None:
        return ""
    return html_text(value) if html else clean_text(value)


def languages(
    value: Any, key: str | None = None, only: list[str] | None = None, html: bool = False
) -> dict[str, str] | None:
    """Text per language from an object keyed by language: values may be text, a list
    (its first non-blank item, as JSON-LD has them) or an object whose ``key`` holds the
    text (``{"de": {"Title": …}}``). Tags are normalised (``DE`` → ``de``, ``pt_br`` →
    ``pt-BR``), text cleaned like ``text`` (or ``html_text`` with ``html: true``), blank
    variants dropped; ``only`` keeps the listed languages."""
    if not isinstance(value, dict):
        raise ValueError("expected an object of languages")
    wanted = {_tag(tag) for tag in only} if only else None
    out: dict[str, str] = {}
    for raw_tag, variant in value.items():
        tag = _tag(raw_tag)
        if wanted is not None and tag not in wanted:
            continue
        if key is not None:
            variant = variant.get(key) if isinstance(variant, dict) else None
        text = _text(variant, html)
        if text:
            out[tag] = text
    return out or None


def pick_language(
    value: Any, languages: list[str], fallback: bool = True, key: str | None = None
) -> str | None:
    """The text of the first of ``languages`` an object of languages has (non-blank; under
    ``key`` when the variants are objects, as ``{"de": {"Phonenumber": …}}``); with
    ``fallback`` (the default) any other language's text when none of them has."""
    if not isinstance(value, dict):
        raise ValueError("expected an object of languages")
    variants = {
        _tag(tag): _text(
            text.get(key) if key is not None and isinstance(text, dict) else text, False
        )
        for tag, text in value.items()
    }
    for tag in languages:
        if variants.get(_tag(tag)):
            return variants[_tag(tag)]
    if fallback:
        return next((text for text in variants.values() if text), None)
    return None


@hookimpl
def register_transforms() -> list[Transform]:
    """The per-language text transforms."""
    return [
        Transform("languages", languages, languages.__doc__ or ""),
        Transform("pick_language", pick_language, pick_language.__doc__ or ""),
    ]
