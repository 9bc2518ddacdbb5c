"""``dmo-pipeline new-source``: scaffold a plugin package for one source.

The templates are package data under ``templates/``: ``common/`` holds the files every
format shares (``pyproject.toml``, ``scrapy.cfg``, the plugin module, the README), and one
folder per format holds its mapping, sample feed and test. A template file ends in
``.tmpl``; ``{{key}}`` in its path or its text is replaced by the value of ``key`` (see
:func:`template_values`), and any other ``{{…}}`` is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pipeline_core.exceptions import PipelineError

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
#: Source names: the mapping schema's pattern, minus underscores (they become hyphens in
#: the distribution name), and at least two characters.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


class ScaffoldError(PipelineError):
    """``new-source`` cannot scaffold (bad name, unknown format, folder not empty)."""


@dataclass(frozen=True)
class SourceFormat:
    """What a scaffold of one feed format needs: the fetcher its mapping names, and the
    sample file the crawl starts from (the test kit's ``start``)."""

    fetcher: str
    first_page: str
    help: str


#: The formats ``new-source --format`` knows.
FORMATS: dict[str, SourceFormat] = {
    "json": SourceFormat("json_api", "page-1.json", "paginated JSON API (json_api)"),
    "xml": SourceFormat("xml_feed", "listings.xml", "XML feed (xml_feed)"),
    "csv": SourceFormat("csv_feed", "listings.csv", "CSV file (csv_feed)"),
    "html": SourceFormat("html", "index.html", "HTML list and detail pages (html)"),
    "jsonld": SourceFormat("jsonld", "index.html", "schema.org JSON-LD in web pages (jsonld)"),
}


def template_values(name: str, fmt: str, dmo: str | None = None) -> dict[str, str]:
    """The placeholders of the templates for source ``name`` in format ``fmt``."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"source name {name!r}: use lower-case letters, digits and hyphens, starting and "
            "ending with a letter or digit (for example lakeside-events)"
        )
    if fmt not in FORMATS:
        raise ScaffoldError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    dmo = dmo or name
    if not _NAME.fullmatch(dmo):
        raise ScaffoldError(f"DMO slug {dmo!r}: use lower-case letters, digits and hyphens")
    return {
        "name": name,
        "dmo": dmo,
        "format": fmt,
        "fetcher": FORMATS[fmt].fetcher,
        "first_page": FORMATS[fmt].first_page,
        "distribution": f"dmo-pipeline-{name}",
        "package": "dmo_pipeline_" + name.replace("-", "_"),
    }


def _fill(text: str, values: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match[1]
        if key not in values:
            raise ScaffoldError(f"template {where}: unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found.extend(_walk(entry, f"{prefix}{entry.name}/"))
        elif entry.name.endswith(".tmpl"):
            found.append((prefix + entry.name.removesuffix(".tmpl"), entry))
    return found


def rendered_files(name: str, fmt: str, dmo: str | None = None) -> dict[str, str]:
    """Relative path → text of every file of the scaffold (format files override common)."""
    values = template_values(name, fmt, dmo)
    templates = resources.files(__package__).joinpath("templates")
    files: dict[str, str] = {}
    for layer in ("common", fmt):
        for relative, entry in _walk(templates.joinpath(layer)):
            where = f"{layer}/{relative}"
            files[_fill(relative, values, where)] = _fill(entry.read_text("utf-8"), values, where)
    return files


def scaffold(name: str, fmt: str, target: Path, dmo: str | None = None) -> list[Path]:
    """Write the plugin package of source ``name`` into ``target`` (new or empty folder);
    return the files written, in order."""
    files = rendered_files(name, fmt, dmo)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} exists and is not an empty folder; choose another --dir")
    written = []
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        written.append(path)
    return written
