"""The hook implementations of the ``example`` plugin (entry point group ``dmo_pipeline``).

pluggy registers this module; each ``@hookimpl`` function whose name is a hook of
:mod:`pipeline_core.hookspecs` is called by dmo-pipeline. A hook implementation takes only
the arguments it needs: ``register_sources`` leaves out ``settings``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.sources import Source
from pipeline_core.transforms import Transform

#: Mapping files shipped with the package (package data, read in place).
MAPPINGS = Path(__file__).resolve().parent / "mappings"

_STAR_SIGNS = re.compile(r"[★☆*\s]+")
_STAR_TEXT = re.compile(r"(\d+)\s*(?:\*|stars?|sterne?|étoiles?)?", re.IGNORECASE)
MAX_STARS = 5


def stars(value: Any) -> int:
    """Star rating 0-5 from "★★★", "★★★☆☆", "***", "3 stars", "3*", "3 Sterne" or a number."""
    if isinstance(value, bool):
        raise ValueError("expected a star rating, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip() and _STAR_SIGNS.fullmatch(value):
        count = value.count("★") + value.count("*")
    elif isinstance(value, str) and (match := _STAR_TEXT.fullmatch(value.strip())):
        count = int(match[1])
    else:
        raise ValueError("not a star rating")
    if not 0 <= count <= MAX_STARS:
        raise ValueError(f"a star rating is 0 to {MAX_STARS}")
    return count


@hookimpl
def register_sources() -> list[Source]:
    """The ``example-lakeside`` source, from the mapping shipped in the package."""
    return [Source.from_mapping_file(MAPPINGS / "example-lakeside.yaml")]


@hookimpl
def register_transforms() -> list[Transform]:
    """The ``stars`` transform."""
    return [Transform("stars", stars, stars.__doc__ or "")]
