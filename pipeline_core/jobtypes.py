"""Job types: what the queue can run, registered through ``register_job_types``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobType:
    """A named job handler. ``handler(payload, context)`` returns a dict of stats."""

    name: str
    handler: Callable[[Mapping[str, Any], Any], Mapping[str, Any] | None]
    help: str
