"""Sources stored as rows of ``pipeline.configs`` (editable through the API).

A stored configuration is the same document as a mapping file, checked by the same
schema. Before the database is migrated there are none. A row that fails the check is
logged as an error naming the row and left out; the other sources are unaffected.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db import make_engine
from pipeline_core.db.tables import configs
from pipeline_core.exceptions import MappingError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.mapping import document_from_config_row
from pipeline_core.sources import BrokenSource, Source

logger = logging.getLogger(__name__)


@hookimpl
def register_sources(settings: Settings) -> list[Source | BrokenSource]:
    """One source per enabled row of ``pipeline.configs``."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("configs", schema="pipeline"):
                return []
            rows = conn.execute(sa.select(configs).where(configs.c.enabled)).mappings().all()
    finally:
        engine.dispose()
    found: list[Source | BrokenSource] = []
    for row in rows:
        # One broken row must not block every other source: it is reported and left out.
        try:
            found.append(Source.from_mapping(document_from_config_row(dict(row))))
        except MappingError as exc:
            logger.error("stored configuration left out: %s", exc)
            found.append(
                BrokenSource(str(row["name"]), f"pipeline.configs[{row['name']}]", str(exc))
            )
    return found
