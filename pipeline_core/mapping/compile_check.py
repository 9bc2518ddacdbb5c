"""``dmo-pipeline sources --check``: compile every source's mapping, as a crawl would, and
name each error with its file and line.

Loading a source checks its document (schema, fetcher options, headers); compiling it
checks the rest: transform names and arguments, paths, targets and ``invalid``. A crawl
compiles too, but only the source it runs, and says no line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_core.exceptions import MappingError
from pipeline_core.mapping.compiler import CompiledMapping
from pipeline_core.mapping.document import MappingDocument
from pipeline_core.transforms import Transform


def _document_path(doc: MappingDocument, where: str) -> list[Any]:
    """The document path of a compiler's place (``location.latitude.transform``): the
    field spec's key under ``fields``, its ``transform`` when named."""
    fields = doc.doc.get("fields") or {}
    target = max(
        (t for t in fields if where == t or where.startswith(t + ".")), key=len, default=None
    )
    if target is None:
        return ["fields"]
    rest = where[len(target) :].lstrip(".")
    path: list[Any] = ["fields", target]
    if rest.startswith("transform") and isinstance(fields[target], dict):
        path.append("transform")
    return path


def located(doc: MappingDocument, error: MappingError) -> MappingError:
    """The error with the line of the field it names: ``file:12: at …`` (its ``key``,
    ``line`` and ``column`` set); the error itself when it names no field of ``doc``."""
    message = str(error)
    where = getattr(error, "field", None)
    if where is None or not message.startswith(doc.origin + ": "):
        return error
    path = _document_path(doc, where)
    found = doc.position(path)
    if found is None:
        return MappingError(message, key=where)
    return MappingError(
        f"{doc.origin}:{found[0]}: {message[len(doc.origin) + 2 :]}",
        key=where,
        line=found[0],
        column=found[1],
    )


def check_mappings(
    documents: Mapping[str, MappingDocument], transforms: Mapping[str, Transform]
) -> dict[str, str | None]:
    """Source name → its compile error (with file and line), or None when it compiles."""
    out: dict[str, str | None] = {}
    for name, doc in documents.items():
        try:
            CompiledMapping(doc, transforms)
        except MappingError as exc:
            out[name] = str(located(doc, exc))
        else:
            out[name] = None
    return out
