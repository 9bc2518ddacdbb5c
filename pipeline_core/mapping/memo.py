"""Memoised transforms: each distinct value of a field is converted once per crawl.

A transform registered with ``cacheable=True`` (:class:`pipeline_core.transforms.Transform`)
is a pure function of its value and arguments. The compiler wraps every such step of a
mapping in a :class:`TransformMemo`: a bounded table from value to result, emptied when a
crawl starts (:meth:`pipeline_core.mapping.CompiledMapping.reset_memos`), counting its hits
and misses for the crawl's stats. Errors are not cached (the call raises again). A result
that is a list or a dict is copied on every hit (records are changed in place later on).

Values that rarely repeat (URLs, names) gain nothing from a table: after a trial of ``size``
calls with fewer than one hit in four, the memo steps aside until the next crawl. Generated
mapping code that calls the memo from a namespace slot (:meth:`TransformMemo.bind_slot`)
then calls the transform itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

#: Values a memo holds at most.
MEMO_SIZE = 4096


def fresh(value: Any) -> Any:
    """A copy of the lists and dicts in ``value`` (JSON-like results; scalars shared)."""
    kind = value.__class__
    if kind is list:
        return [fresh(item) for item in value]
    if kind is dict:
        return {key: fresh(item) for key, item in value.items()}
    return value


@dataclass
class MemoStats:
    """Hits and misses of a mapping's memos over one crawl."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        """Share of memoised calls answered from a table (0.0 when none were made)."""
        calls = self.hits + self.misses
        return self.hits / calls if calls else 0.0


class TransformMemo:
    """The per-crawl cache of one pure transform step of one field."""

    def __init__(self, call: Callable[[Any], Any], size: int = MEMO_SIZE) -> None:
        self.call = call
        self.size = size
        self.texts: dict[str, Any] = {}  # text values, the most common, keyed by themselves
        self.others: dict[Any, Any] = {}  # other values, keyed by (class, value)
        self.hits = 0
        self.misses = 0
        self.active = True
        self.slots: list[tuple[dict[str, Any], str]] = []
        #: Whether a result may be a list or a dict, copied on each hit (else shared).
        self.copies = False

    def bind_slot(self, namespace: dict[str, Any], name: str) -> None:
        """Generated code calls this memo as ``namespace[name]``: rebound to the transform
        itself while the memo steps aside, and back by :meth:`reset`."""
        namespace[name] = self if self.active else self.call
        self.slots.append((namespace, name))

    def reset(self) -> None:
        """Empty the tables and the counts, for a new crawl."""
        self.texts.clear()
        self.others.clear()
        self.hits = self.misses = 0
        if not self.active:
            self.active = True
            for namespace, name in self.slots:
                namespace[name] = self

    def _miss(self, key: Any, table: dict[Any, Any], value: Any) -> Any:
        result = self.call(value)
        self.misses += 1
        if len(self.texts) + len(self.others) < self.size:
            kind = result.__class__
            if kind is list or kind is dict:
                self.copies = True
                table[key] = fresh(result)
            else:
                table[key] = result
        elif self.hits * 4 < self.hits + self.misses:
            self.active = False
            self.texts.clear()
            self.others.clear()
            for namespace, name in self.slots:
                namespace[name] = self.call
        return result

    def _structured(self, value: Any) -> Any:
        try:
            key = ("json", orjson.dumps(value))
        except TypeError:  # not JSON (a set, an object): not cached
            return self.call(value)
        try:
            result = self.others[key]
        except KeyError:
            return self._miss(key, self.others, value)
        self.hits += 1
        return fresh(result) if self.copies else result

    def __call__(self, value: Any) -> Any:
        if not self.active:
            return self.call(value)
        kind = value.__class__
        if kind is str:
            try:
                result = self.texts[value]
            except KeyError:
                return self._miss(value, self.texts, value)
        else:
            # 1, 1.0 and True are equal keys otherwise, and so are 0.0 and -0.0
            key = (kind, value.hex()) if kind is float else (kind, value)
            try:
                result = self.others[key]
            except KeyError:
                return self._miss(key, self.others, value)
            except TypeError:  # a list or dict: keyed by its JSON text
                return self._structured(value)
        self.hits += 1
        return fresh(result) if self.copies else result
