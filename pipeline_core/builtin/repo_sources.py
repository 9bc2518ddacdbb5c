"""Sources of the project checkout: ``mappings/*.yaml`` and ``PIPELINE_SOURCES_PATH``.

A mapping whose ``fetcher`` is ``spider`` belongs to the spider of the same name in the
project's ``spiders/`` package (Scrapy's ``SPIDER_MODULES``).
"""

from __future__ import annotations

from pathlib import Path

from pipeline_core.config import Settings
from pipeline_core.hookspecs import hookimpl
from pipeline_core.project import project_root
from pipeline_core.sources import Source


def mapping_folders(settings: Settings) -> list[Path]:
    """The folders read for mapping files, in order."""
    folders = []
    root = project_root()
    if root is not None:
        folders.append(root / "mappings")
    folders.extend(Path(p).expanduser().resolve() for p in settings.sources_path)
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


@hookimpl
def register_sources(settings: Settings) -> list[Source]:
    """One source per mapping file of the project's mapping folders."""
    found = []
    for folder in mapping_folders(settings):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            found.append(Source.from_mapping_file(path, origin=str(path)))
    return found
