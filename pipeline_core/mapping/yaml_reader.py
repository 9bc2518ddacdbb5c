"""Reading mapping documents with bounded cost (decision 53).

Whoever edits a mapping file or a stored configuration is not trusted with the machine, so
a document is refused before any schema check or mapping runs when it is larger than
:data:`MAX_DOCUMENT_BYTES`, nested deeper than :data:`MAX_DEPTH`, holds more than
:data:`MAX_NODES` values, or uses a YAML alias (``*name``, and so the merge key ``<<``):
about 1 KB of nested aliases expands to gigabytes. :class:`MappingLoader` enforces this
while PyYAML composes the document; :func:`check_bounds` walks a document that did not come
from YAML (a ``pipeline.configs`` row) with the same limits.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from pipeline_core.exceptions import MappingError

#: Largest mapping document, in bytes of its text (or characters of a stored row's values).
MAX_DOCUMENT_BYTES = 1_000_000
#: Deepest nesting of mappings and lists in a mapping document.
MAX_DEPTH = 32
#: Most values (scalars, mappings and lists) in one mapping document.
MAX_NODES = 100_000


class DocumentBoundsError(yaml.MarkedYAMLError):
    """A YAML document refused for its cost (an alias, its depth or its size)."""


class MappingLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans (only true/false, so keys and values such
    as ``on``, ``off``, ``yes``, ``no``, ``y``, ``n``, field names in feeds, stay text),
    which refuses aliases and caps the depth and number of nodes while composing."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise DocumentBoundsError(
                None,
                None,
                f"alias *{event.anchor} refused: mapping documents may not use YAML aliases "
                "(or the merge key <<); write the value out",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise DocumentBoundsError(
                None,
                None,
                f"more than {MAX_NODES} values: a mapping document is refused beyond that",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise DocumentBoundsError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels: a mapping document is refused "
                    "beyond that",
                    self.peek_event().start_mark,
                )
            node: yaml.Node | None = super().compose_node(parent, index)  # type: ignore[misc]
            return node
        finally:
            self._depth -= 1


MappingLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    MappingLoader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )


def check_size(text: str | bytes, origin: str) -> None:
    """Refuse a document text over :data:`MAX_DOCUMENT_BYTES`."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_DOCUMENT_BYTES:
        raise MappingError(
            f"{origin}: refused: the document is {size} bytes, more than {MAX_DOCUMENT_BYTES}"
        )


def compose_bounded(text: str, origin: str) -> tuple[Any, yaml.Node | None]:
    """The document held by ``text`` and its YAML node tree, read with bounded cost.

    Raises :class:`MappingError` naming ``origin`` and the line for a document over the
    limits, and for text that is not YAML.
    """
    check_size(text, origin)
    loader = MappingLoader(text)
    try:
        root = loader.get_single_node()
        doc = loader.construct_document(root) if root is not None else None
    except DocumentBoundsError as exc:
        mark = exc.problem_mark
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        raise MappingError(f"{where}: refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        raise MappingError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    return doc, root


def check_bounds(doc: Any, origin: str) -> None:
    """Refuse a document (from any source) deeper, larger or with more values than allowed.

    Walks without recursion, so a document nested beyond Python's recursion limit is
    refused rather than crashing the process.
    """
    nodes = 0
    size = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise MappingError(
                f"{origin}: refused: nested deeper than {MAX_DEPTH} levels: a mapping "
                "document is refused beyond that"
            )
        if nodes > MAX_NODES:
            raise MappingError(
                f"{origin}: refused: more than {MAX_NODES} values: a mapping document is "
                "refused beyond that"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                size += len(str(key))
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            size += len(value)
        if size > MAX_DOCUMENT_BYTES:
            raise MappingError(
                f"{origin}: refused: the document holds more than {MAX_DOCUMENT_BYTES} characters"
            )
