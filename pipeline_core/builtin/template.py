"""The ``template`` transform: one text built from several fields of a record.

``{from: {type: TipoVia, name: NombreVia, number: Numero}, transform: {template: "{type}
{name}, {number}"}}`` gives ``Calle Mayor, 5``. A field that is empty is left out with the
text that leads up to it, so ``Calle Mayor`` has no dangling comma. Names in braces are
paths into the value (``{Address.Street}``), so without ``from`` the template reads the
record itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.mapping import make_getter
from pipeline_core.transforms import Transform

_FIELD = re.compile(r"\{([^{}]+)\}")


@lru_cache(maxsize=256)
def _parse(template: str) -> tuple[str, list[tuple[str, Callable[[Any], Any]]], str]:
    """(text before the first field, [(text leading up to a field, its getter)], text
    after the last field)."""
    fields = list(_FIELD.finditer(template))
    if not fields:
        raise ValueError(f"the template {template!r} names no field in braces")
    head = template[: fields[0].start()]
    parts = []
    for i, match in enumerate(fields):
        lead = "" if i == 0 else template[fields[i - 1].end() : match.start()]
        parts.append((lead, make_getter(match[1].strip())))
    return head, parts, template[fields[-1].end() :]


def _part_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(t for t in (_part_text(v) for v in value) if t)
    if isinstance(value, dict):
        if "#text" in value:  # an XML element with attributes
            return _part_text(value["#text"])
        raise ValueError("a template field holds an object, not text")
    return " ".join(str(value).split())


def template(value: Any, template: str) -> str | None:
    """Text of ``template`` with each ``{name}`` replaced by that field of the value;
    empty fields are left out with the text leading up to them (text before the first
    field and after the last stays when that field has a value)."""
    head, parts, tail = _parse(template)
    out: list[str] = []
    last_present = False
    for lead, getter in parts:
        text = _part_text(getter(value))
        last_present = bool(text)
        if not text:
            continue
        out.append(lead + text if out else text)
    if not out:
        return None
    return head + "".join(out) + (tail if last_present else "")


@hookimpl
def register_transforms() -> list[Transform]:
    """The ``template`` transform."""
    return [Transform("template", template, template.__doc__ or "")]
