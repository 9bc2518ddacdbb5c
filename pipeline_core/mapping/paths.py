"""Paths into a source record: dotted keys, list positions, predicates and wildcards.

``a.b.0.c`` walks keys and positions; ``$`` is the record itself. Two bracket forms make
paths that survive a publisher reordering or repeating elements:

- ``item[name=Horario]`` picks the first item of a list (or the one object) whose key
  ``name`` (or XML attribute ``@name``) has the text ``Horario``; quotes allow dots and
  brackets in the value: ``item[name="Horario de verano"]``.
- ``categoria[*]`` collects every value of a repeated element as one list, whether the
  source gave one element (an object or a scalar) or many; the rest of the path is read
  from each of them, and lists it meets are flattened one level.

Plain paths are split once by :func:`path_parts`, which the compiler writes out inline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Getter = Callable[[Any], Any]

#: One step of a path: ("key", name, index), ("pick", key, value) or ("all", "", None).
Step = tuple[str, str, Any]

_SEGMENT = re.compile(
    r"""(?P<key>[^.\[\]]+)?(?P<brackets>(?:\[(?:"[^"]*"|'[^']*'|[^\]"'])*\])*)(?:\.|$)"""
)
_BRACKET = re.compile(
    r"""\[\s*(?:(?P<all>\*)|(?P<key>[^=\]"']+?)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]"']*?)))\s*\]"""
)


class PathError(ValueError):
    """A path that cannot be read: the message says where it is wrong."""


def is_plain(path: str) -> bool:
    """True for paths of keys and positions only (no predicate, no wildcard)."""
    return "[" not in path


def path_parts(path: str) -> list[tuple[str, int | None]]:
    """``a.b.0`` → [("a", None), ("b", None), ("0", 0)]; ``$`` → []."""
    if path in ("$", ""):
        return []
    return [
        (part, int(part) if part.isascii() and part.isdigit() else None) for part in path.split(".")
    ]


def parse_path(path: str) -> list[Step]:
    """The steps of a path with brackets; :class:`PathError` names what is wrong."""
    if path in ("$", ""):
        return []
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None or match.end() == pos:
            raise PathError(f"path {path!r}: cannot read it from character {pos + 1}")
        key, brackets = match["key"], match["brackets"]
        if key is None and not brackets:
            raise PathError(f"path {path!r}: an empty part at character {pos + 1}")
        if key is not None:
            steps.append(("key", key, int(key) if key.isascii() and key.isdigit() else None))
        at = 0
        while at < len(brackets):
            bracket = _BRACKET.match(brackets, at)
            if bracket is None:
                raise PathError(f"path {path!r}: {brackets[at:]!r} is neither [*] nor [key=value]")
            if bracket["all"]:
                steps.append(("all", "", None))
            else:
                value = next(
                    v for v in (bracket["dq"], bracket["sq"], bracket["bare"]) if v is not None
                )
                steps.append(("pick", bracket["key"].strip(), value.strip()))
            at = bracket.end()
        pos = match.end()
    if path.endswith("."):
        raise PathError(f"path {path!r}: ends with a dot")
    return steps


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value).strip()
    if isinstance(value, dict) and "#text" in value:  # <name lang="es">Horario</name>
        return _text(value["#text"])
    return None


def _matches(item: Any, key: str, wanted: str) -> bool:
    if not isinstance(item, dict):
        return False
    value = item.get(key)
    if value is None and not key.startswith("@"):
        value = item.get("@" + key)
    return _text(value) == wanted


def _walk(value: Any, steps: list[Step], start: int) -> Any:
    for at in range(start, len(steps)):
        kind, key, arg = steps[at]
        if value is None:
            return None
        if kind == "key":
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list) and arg is not None:
                value = value[arg] if arg < len(value) else None
            else:
                return None
        elif kind == "pick":
            items = value if isinstance(value, list) else [value]
            value = next((item for item in items if _matches(item, key, arg)), None)
        else:  # "all": the rest of the path from every element
            items = value if isinstance(value, list) else [value]
            out: list[Any] = []
            for item in items:
                got = _walk(item, steps, at + 1)
                if isinstance(got, list):
                    out.extend(v for v in got if not _blank(v))
                elif not _blank(got):
                    out.append(got)
            return out or None
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def bracket_getter(path: str) -> Getter:
    """A function reading a path with predicates or wildcards from a record."""
    steps = parse_path(path)

    def get(record: Any) -> Any:
        return _walk(record, steps, 0)

    return get
