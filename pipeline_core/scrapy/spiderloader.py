"""``SPIDER_LOADER_CLASS``: Scrapy's spiders plus one spider per registered source.

``scrapy list`` and ``scrapy crawl NAME`` see in-repo spiders (``SPIDER_MODULES``), every
mapping source (in-repo, stored config, plugin) and plugin spiders alike.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader

from pipeline_core.exceptions import MappingError, PluginError
from pipeline_core.scrapy.runtime import get_runtime
from pipeline_core.sources import Source

logger = logging.getLogger(__name__)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def spider_class_for(source: Source, scrapy_spiders: dict[str, type]) -> type:
    """The spider class that crawls ``source``: its own, or its fetcher bound to it."""
    if source.spider_cls is not None:
        return type(source.spider_cls.__name__, (source.spider_cls,), {"source": source})
    if source.fetcher == "spider":
        try:
            cls = scrapy_spiders[source.name]
        except KeyError:
            raise PluginError(
                f"{source.origin}: fetcher 'spider' needs a spider named {source.name!r} "
                "in the project's spiders/ package"
            ) from None
        return type(cls.__name__, (cls,), {"source": source})
    fetchers = get_runtime().fetchers
    try:
        fetcher = fetchers[source.fetcher]
    except KeyError:
        known = ", ".join(sorted(fetchers))
        raise PluginError(
            f"{source.origin}: unknown fetcher {source.fetcher!r} (known: {known})"
        ) from None
    class_name = "".join(part.capitalize() for part in source.name.replace("-", "_").split("_"))
    return type(f"{class_name}Spider", (fetcher,), {"name": source.name, "source": source})


class SourceSpiderLoader(SpiderLoader):
    """Scrapy's loader extended with the sources of dmo-pipeline's plugins."""

    def __init__(self, settings: BaseSettings) -> None:
        runtime = get_runtime()  # puts the project folder on sys.path for SPIDER_MODULES
        settings_copy: Any = settings.copy()
        settings_copy.frozen = False
        modules = settings.getlist("SPIDER_MODULES")
        # `spiders` exists only in a checkout; elsewhere it is left out, not an error.
        settings_copy.set("SPIDER_MODULES", [m for m in modules if _importable(m)])
        super().__init__(settings_copy)
        self._sources = runtime.sources
        self._source_classes: dict[str, type] = {}

    def load(self, spider_name: str) -> type:
        source = self._sources.get(spider_name)
        if source is None:
            broken = self._sources.broken.get(spider_name)
            if broken is not None and spider_name not in self._spiders:
                raise MappingError(broken.error)  # left out when sources loaded (decision 56)
            return super().load(spider_name)
        if spider_name not in self._source_classes:
            self._source_classes[spider_name] = spider_class_for(source, self._spiders)
        return self._source_classes[spider_name]

    def list(self) -> list[str]:
        return sorted(set(self._spiders) | set(self._sources))
