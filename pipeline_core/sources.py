"""Sources: what can be crawled, from mapping files, stored configs, spiders and plugins."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_core.exceptions import PluginError, UnknownSourceError
from pipeline_core.mapping import MappingDocument, load_mapping_file


@dataclass(frozen=True)
class Source:
    """One crawlable source.

    ``mapping`` maps its records onto the canonical model; ``fetcher`` names the generic
    spider that fetches it, unless ``spider_cls`` (a custom spider) does. ``origin`` says
    where it was defined, for ``dmo-pipeline sources`` and error messages.
    """

    name: str
    dmo: str
    fetcher: str
    mapping: MappingDocument
    origin: str
    spider_cls: type | None = None

    @property
    def scrape_frequency(self) -> str:
        """When the scheduler scrapes it: ``hourly``, ``daily``, ``weekly`` or a cron
        expression (the mapping's ``scrape_frequency``, default ``daily``)."""
        return self.mapping.scrape_frequency

    @classmethod
    def from_mapping(cls, doc: MappingDocument, origin: str | None = None) -> Source:
        """A source fetched by the generic fetcher its mapping names."""
        return cls(doc.source, doc.dmo, doc.fetcher, doc, origin or doc.origin)

    @classmethod
    def from_mapping_file(cls, path: str | Path, origin: str | None = None) -> Source:
        """Load and check a mapping file and make a source of it."""
        return cls.from_mapping(load_mapping_file(path), origin)

    @classmethod
    def from_spider(cls, spider_cls: type, mapping_path: str | Path) -> Source:
        """A source fetched by a custom spider; its ``name`` must equal the mapping's source."""
        doc = load_mapping_file(mapping_path)
        name = getattr(spider_cls, "name", None)
        if name != doc.source:
            raise PluginError(
                f"spider {spider_cls.__module__}.{spider_cls.__qualname__} is named {name!r} "
                f"but its mapping {mapping_path} is for source {doc.source!r}"
            )
        origin = f"{spider_cls.__module__}.{spider_cls.__qualname__}"
        return cls(doc.source, doc.dmo, "spider", doc, origin, spider_cls)


def collect_sources(results: Iterable[Iterable[Any]]) -> dict[str, Source]:
    """Merge ``register_sources`` results; a name registered twice is an error naming both."""
    found: dict[str, Source] = {}
    for group in results:
        for source in group or []:
            if not isinstance(source, Source):
                raise PluginError(f"register_sources returned {source!r}, not a Source")
            if source.name in found:
                raise PluginError(
                    f"source {source.name!r} is defined twice: {found[source.name].origin} "
                    f"and {source.origin}"
                )
            found[source.name] = source
    return dict(sorted(found.items()))


def get_source(
    sources: dict[str, Source], name: str, folders: Sequence[Path] | None = None
) -> Source:
    """The source named ``name``, or an error listing the known names, the mapping folders
    searched (``folders``, when the caller knows them) and how to add one."""
    try:
        return sources[name]
    except KeyError:
        known = ", ".join(sources) or "none"
        searched = (
            f"; mapping files were read from {', '.join(str(f) for f in folders) or 'no folder'}"
            if folders is not None
            else ""
        )
        raise UnknownSourceError(
            f"no source named {name!r} (known: {known}){searched}; a mapping file elsewhere "
            "is found when its folder is in PIPELINE_SOURCES_PATH (folders separated by "
            f"{os.pathsep!r})"
        ) from None
