"""Sources fed by uploads (plugin ``builtin-upload``): the ``upload`` fetcher and the
``read_upload`` job type.

A mapping with ``fetcher: upload`` has no URL: a DMO sends its feed file with
``POST /api/v1/pipeline/files?source=NAME``. ``options.format`` says what the file is
(``csv``, ``xml``, ``json`` or ``jsonl``), with that format's options (``encoding``,
``delimiter``, ``quotechar``, ``columns``, ``skip_lines`` for CSV; ``namespaces`` for XML);
``records`` is the element path (XML) or record list path (JSON) as for ``xml_feed`` and
``json_api``. The file is read by the same readers as ``csv_feed`` and ``xml_feed``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pipeline_core.exceptions import MappingError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobs.upload import read_upload
from pipeline_core.jobtypes import JobType
from pipeline_core.scrapy.fetcher import FetcherSpider

#: Upload formats and the file name endings each accepts.
FORMATS = {
    "csv": (".csv", ".tsv", ".txt"),
    "xml": (".xml",),
    "json": (".json",),
    "jsonl": (".jsonl", ".ndjson"),
}


class UploadSpider(FetcherSpider):
    """A source fed by uploads: nothing to crawl (``POST /files`` brings its file)."""

    fetcher_name = "upload"
    fetcher_help = "fed by uploads (POST /api/v1/pipeline/files): csv, xml, json or jsonl"
    options_schema: ClassVar[dict[str, Any] | None] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["format"],
        "properties": {
            "format": {"enum": list(FORMATS)},
            "encoding": {"type": "string", "minLength": 1},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
            "quotechar": {"type": "string", "minLength": 1, "maxLength": 1},
            "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "skip_lines": {"type": "integer", "minimum": 0},
            "namespaces": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    pagination_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise MappingError(
            f"{self.source.mapping.origin}: source {self.source.name} is fed by uploads "
            f"(fetcher upload), not crawled: POST /api/v1/pipeline/files?source="
            f"{self.source.name}"
        )


UPLOAD_JOB = JobType(
    "read_upload",
    read_upload,
    "Read an uploaded feed file with its source's format into a raw archive file "
    "(payload: file_id); next: transform.",
)


@hookimpl
def register_fetchers() -> list[type]:
    """The ``upload`` fetcher."""
    return [UploadSpider]


@hookimpl
def register_job_types() -> list[JobType]:
    """``read_upload``: the first job of an upload's chain."""
    return [UPLOAD_JOB]
