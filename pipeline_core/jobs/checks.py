"""Payload checks of the built-in job types, run when a job is queued from outside
(``queue add``, the API): a scrape of a source that does not exist, or a transform of a file
that is not there, is refused with one clear error instead of being retried five times."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.exceptions import PermanentJobError, UnknownSourceError
from pipeline_core.jobs.files import load_file
from pipeline_core.jobs.payload import payload_id, payload_text
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import Source, get_source


def check_scrape(
    payload: Mapping[str, Any],
    conn: sa.Connection,
    settings: Settings,
    sources: Mapping[str, Source] | None = None,
) -> None:
    """``source`` names a registered source (of ``sources``, when the caller has them)."""
    name = payload_text(payload, "source", "scrape")
    if sources is None:
        sources = get_plugin_manager(settings).sources()
    try:
        get_source(sources, name)
    except UnknownSourceError as exc:
        raise PermanentJobError(f"scrape job: {exc}", source=name) from None


def check_transform(payload: Mapping[str, Any], conn: sa.Connection, settings: Settings) -> None:
    """``file_id`` is a raw file of ``pipeline.files``."""
    load_file(conn, payload_id(payload, "file_id", "transform"), "raw", "transform")


def check_ingest(payload: Mapping[str, Any], conn: sa.Connection, settings: Settings) -> None:
    """``file_id`` is a normalised file of ``pipeline.files``."""
    load_file(conn, payload_id(payload, "file_id", "ingest"), "normalised", "ingest")
