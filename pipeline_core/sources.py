"""Sources: what can be crawled, from mapping files, stored configs, spiders and plugins."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_core.exceptions import MappingError, PluginError, UnknownSourceError
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


@dataclass(frozen=True)
class BrokenSource:
    """A source whose definition failed its checks (a mapping file or stored configuration
    that is not valid): it is left out of the registry, and asking for it by name raises
    its error, so only that source fails (decision 56)."""

    name: str
    origin: str
    error: str


class SourceRegistry(dict[str, Source]):
    """Sources by name, plus :attr:`broken`: the sources left out, with their errors."""

    def __init__(
        self,
        sources: Iterable[tuple[str, Source]] = (),
        broken: dict[str, BrokenSource] | None = None,
    ) -> None:
        super().__init__(sources)
        #: Sources left out, by name (the mapping's ``source``, or the file's stem when the
        #: document could not be read).
        self.broken: dict[str, BrokenSource] = dict(broken or {})


def collect_sources(results: Iterable[Iterable[Any]]) -> SourceRegistry:
    """Merge ``register_sources`` results; a name registered twice is an error naming both.

    A :class:`BrokenSource` in the results goes to :attr:`SourceRegistry.broken`."""
    found: dict[str, Source] = {}
    broken: dict[str, BrokenSource] = {}
    for group in results:
        for source in group or []:
            if isinstance(source, BrokenSource):
                broken.setdefault(source.name, source)
                continue
            if not isinstance(source, Source):
                raise PluginError(f"register_sources returned {source!r}, not a Source")
            if source.name in found:
                raise PluginError(
                    f"source {source.name!r} is defined twice: {found[source.name].origin} "
                    f"and {source.origin}"
                )
            found[source.name] = source
    return SourceRegistry(sorted(found.items()), broken)


def get_source(
    sources: Mapping[str, Source], name: str, folders: Sequence[Path] | None = None
) -> Source:
    """The source named ``name``; its own error when it was left out as broken, else an
    error listing the known names, the mapping folders searched (``folders``, when the
    caller knows them) and how to add one."""
    try:
        return sources[name]
    except KeyError:
        broken = getattr(sources, "broken", {}).get(name)
        if broken is not None:
            raise MappingError(broken.error) from None
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
