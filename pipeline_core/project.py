"""Locate the project checkout: the folder with ``scrapy.cfg``, ``mappings/`` and ``spiders/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pipeline_core

if TYPE_CHECKING:
    from pipeline_core.config import Settings


def project_root(start: Path | None = None) -> Path | None:
    """The project folder: ``$PIPELINE_PROJECT_DIR``, else the nearest folder upwards from
    ``start`` (default: the working folder) holding ``scrapy.cfg`` and ``mappings/``, else
    the checkout this package was installed from in editable mode, else None."""
    env = os.environ.get("PIPELINE_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "scrapy.cfg").is_file() and (folder / "mappings").is_dir():
            return folder
    checkout = Path(pipeline_core.__file__).resolve().parent.parent
    if (checkout / "scrapy.cfg").is_file() and (checkout / "mappings").is_dir():
        return checkout
    return None


def mapping_folders(settings: Settings) -> list[Path]:
    """The folders read for mapping files, in order: the project's ``mappings/``, then
    ``PIPELINE_SOURCES_PATH``'s (those that exist, each once)."""
    folders = []
    root = project_root()
    if root is not None:
        folders.append(root / "mappings")
    folders.extend(Path(p).expanduser().resolve() for p in settings.sources_path)
    return [f for f in dict.fromkeys(folders) if f.is_dir()]
