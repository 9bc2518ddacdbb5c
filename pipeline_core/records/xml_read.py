"""Reading XML safely and as a stream: records as dicts, entities and DTDs never resolved.

:func:`iter_records` walks a document with lxml's ``iterparse`` and clears each element
once it is read, so a large feed's tree never builds up. The parser resolves no entity,
loads no DTD and opens no network connection; a document whose DTD declares entities at
all (external ones that would read files or URLs, nested ones that would expand to
gigabytes) is refused as a whole with :class:`UnsafeXML`, before any record is read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree


class UnsafeXML(ValueError):
    """The document declares entities; it is refused, nothing in it is resolved."""


class Namer:
    """Names of elements and attributes as payload keys: the local name, or ``prefix:local``
    for a namespace the mapping names in ``options.namespaces`` (prefix → URI)."""

    def __init__(self, namespaces: dict[str, str] | None = None) -> None:
        self.prefixes = {uri: prefix for prefix, uri in (namespaces or {}).items()}
        self._cache: dict[str, str] = {}

    def __call__(self, tag: str) -> str:
        name = self._cache.get(tag)
        if name is None:
            if tag.startswith("{"):
                uri, local = tag[1:].split("}", 1)
                prefix = self.prefixes.get(uri)
                name = f"{prefix}:{local}" if prefix else local
            else:
                name = tag
            self._cache[tag] = name
        return name


def element_to_value(element: Any, name: Namer) -> Any:
    """An element as payload: its text when it has neither attributes nor children, else a
    dict of ``@attribute`` values, child values by name (a list when repeated) and
    ``#text`` for its own text.

    Its own text is every piece of text directly inside it — before, between and after
    its child elements (mixed content: ``<p>Open <b>daily</b> from 9.</p>`` has ``Open``
    and ``from 9.``) — each stripped, joined by one space."""
    children = [child for child in element if isinstance(child.tag, str)]
    pieces = [element.text, *(child.tail for child in element)]
    text = " ".join(piece.strip() for piece in pieces if piece and piece.strip()) or None
    if not children and not element.attrib:
        return text
    out: dict[str, Any] = {f"@{name(key)}": value for key, value in element.attrib.items()}
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(name(child.tag), []).append(element_to_value(child, name))
    for key, values in grouped.items():
        out[key] = values[0] if len(values) == 1 else values
    if text is not None:
        out["#text"] = text
    return out


def _entities(element: Any) -> list[str]:
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is None:
        return []
    found = []
    for entity in dtd.iterentities():
        target = entity.system_url or entity.content or ""
        kind = "external" if entity.system_url else "internal"
        found.append(f"{entity.name} ({kind}: {target[:80]})")
    return found


def iter_records(
    body: bytes,
    record_path: list[str],
    name: Namer,
    value_path: list[str] | None = None,
    found: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any] | Any]:
    """Yield the value of every element at ``record_path`` (names from the root, or one name
    matching at any depth), streaming.

    The text of the element at ``value_path`` (a next URL or cursor; its ``href`` attribute
    when it has no text) is put into ``found["value"]``. Raises :class:`UnsafeXML` for a
    document that declares entities, and ``etree.XMLSyntaxError`` for one that is not
    well-formed (records before the fault have been yielded).
    """
    parser = etree.iterparse(
        io.BytesIO(body),
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    anywhere = len(record_path) == 1
    try:
        yield from _walk(parser, record_path, name, value_path, found, anywhere)
    except etree.XMLSyntaxError:
        # libxml2 may stop at an entity bomb before the root element's start event, where
        # the declarations are checked; the refusal is the same.
        declared = _declared_in_prolog(body)
        if declared:
            raise UnsafeXML(
                "the document declares entities, which are never resolved: " + ", ".join(declared)
            ) from None
        raise


#: An entity declaration of a DTD's internal subset: name, then SYSTEM/PUBLIC and a URL, or a value.
_ENTITY = re.compile(
    rb"""<!ENTITY\s+(?:%\s*)?([^\s>]+)\s+(SYSTEM\s+|PUBLIC\s+(?:"[^"]*"|'[^']*')\s+)?("[^"]*"|'[^']*')"""
)


def _declared_in_prolog(body: bytes) -> list[str]:
    """The entities declared before the root element, as :func:`_entities` names them."""
    end = body.find(b"]>")
    prolog = body[: end if end >= 0 else len(body)]
    found = []
    for name, external, target in _ENTITY.findall(prolog):
        kind = "external" if external else "internal"
        text = target[1:-1].decode("utf-8", "replace")
        found.append(f"{name.decode('utf-8', 'replace')} ({kind}: {text[:80]})")
    return found


def _walk(
    parser: Any,
    record_path: list[str],
    name: Namer,
    value_path: list[str] | None,
    found: dict[str, Any] | None,
    anywhere: bool,
) -> Iterator[dict[str, Any] | Any]:
    stack: list[str] = []
    inside = 0  # depth of the record element being read (0: none)
    checked = False
    for event, element in parser:
        if not isinstance(element.tag, str):
            continue
        if event == "start":
            if not checked:
                entities = _entities(element)
                if entities:
                    raise UnsafeXML(
                        "the document declares entities, which are never resolved: "
                        + ", ".join(entities)
                    )
                checked = True
            stack.append(name(element.tag))
            if not inside and (stack[-1] == record_path[0] if anywhere else stack == record_path):
                inside = len(stack)
            continue
        depth = len(stack)
        if inside and depth == inside:
            inside = 0
            stack.pop()
            yield element_to_value(element, name)
            _release(element)
            continue
        if not inside:
            if value_path and found is not None and _at(stack, value_path):
                text = (element.text or "").strip() or element.get("href")
                found["value"] = text
            _release(element)
        stack.pop()


def _at(stack: list[str], path: list[str]) -> bool:
    return stack[-1] == path[0] if len(path) == 1 else stack == path


def _release(element: Any) -> None:
    """Free an element that has been read, and the siblings read before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
