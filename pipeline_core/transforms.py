"""Transforms: named value conversions that mappings apply, registered through a hook.

A transform is a function ``func(value, **args)``; when it declares a ``context``
parameter it also gets the :class:`TransformContext` of the source (its defaults, such
as the phone region). It raises :class:`~pipeline_core.exceptions.TransformError` (or
``ValueError``) when a value cannot be converted; the mapping stage names source, record
and field. Built-ins live in :mod:`pipeline_core.builtin.transforms`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_core.exceptions import PluginError


@dataclass(frozen=True)
class TransformContext:
    """What a transform may know of the record's source."""

    source: str
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transform:
    """A named transform. ``help`` is its one-line reference documentation."""

    name: str
    func: Callable[..., Any]
    help: str
    #: True when the result depends only on the value and arguments and is immutable, so
    #: results for repeated values (weekday names, times, yes/no) may be cached.
    cacheable: bool = False

    @property
    def wants_context(self) -> bool:
        return "context" in inspect.signature(self.func).parameters


def build_registry(groups: Iterable[Iterable[Transform]]) -> dict[str, Transform]:
    """Merge the lists returned by ``register_transforms``; two with one name is an error."""
    registry: dict[str, Transform] = {}
    for group in groups:
        for transform in group:
            if transform.name in registry:
                raise PluginError(
                    f"transform {transform.name!r} is registered twice "
                    f"({registry[transform.name].func.__module__} and {transform.func.__module__})"
                )
            registry[transform.name] = transform
    return registry
