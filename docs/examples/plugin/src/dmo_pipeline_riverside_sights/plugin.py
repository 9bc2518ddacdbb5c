"""Hook implementations of the ``riverside-sights`` plugin (entry point group ``dmo_pipeline``).

dmo-pipeline calls each ``@hookimpl`` function whose name is a hook of
``pipeline_core.hookspecs``; see dmo-pipeline's docs/reference/hooks.md for the others
(``register_transforms`` for a transform of your own, ``register_fetchers`` …).
"""

from __future__ import annotations

from pathlib import Path

from dmo_pipeline_riverside_sights.events import RiversideEventsSpider

from pipeline_core.hookspecs import hookimpl
from pipeline_core.sources import Source

#: Mapping files shipped with the package (package data, read in place).
MAPPINGS = Path(__file__).resolve().parent / "mappings"


@hookimpl
def register_sources() -> list[Source]:
    """The ``riverside-sights`` source (a mapping) and ``riverside-events`` (a spider)."""
    return [
        Source.from_mapping_file(MAPPINGS / "riverside-sights.yaml"),
        Source.from_spider(RiversideEventsSpider, MAPPINGS / "riverside-events.yaml"),
    ]
