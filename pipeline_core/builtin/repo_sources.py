"""Sources of the project checkout: ``mappings/*.yaml`` and ``PIPELINE_SOURCES_PATH``.

A mapping whose ``fetcher`` is ``spider`` belongs to the spider of the same name in the
project's ``spiders/`` package (Scrapy's ``SPIDER_MODULES``). A file that does not load is
logged and left out with its error (a :class:`~pipeline_core.sources.BrokenSource`), so the
other sources still run; ``dmo-pipeline sources --check`` and a crawl of that source fail.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline_core.config import Settings
from pipeline_core.exceptions import MappingError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.mapping.yaml_reader import compose_bounded
from pipeline_core.project import mapping_folders
from pipeline_core.sources import BrokenSource, Source

logger = logging.getLogger(__name__)


def _name_of_broken(path: Path) -> str:
    """The source name a broken mapping file gives, else the file's stem."""
    try:
        doc, _ = compose_bounded(path.read_text("utf-8"), str(path))
    except (OSError, UnicodeError, MappingError):
        return path.stem
    name = doc.get("source") if isinstance(doc, dict) else None
    return name if isinstance(name, str) and name else path.stem


@hookimpl
def register_sources(settings: Settings) -> list[Source | BrokenSource]:
    """One source per mapping file of the project's mapping folders (broken ones left out
    with their error)."""
    found: list[Source | BrokenSource] = []
    for folder in mapping_folders(settings):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                found.append(Source.from_mapping_file(path, origin=str(path)))
            except MappingError as exc:
                logger.error("mapping file left out: %s", exc)
                found.append(BrokenSource(_name_of_broken(path), str(path), str(exc)))
    return found
