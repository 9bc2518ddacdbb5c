"""Stored source configurations (``pipeline.configs``): read, check, save, delete.

A stored configuration is the document of a mapping file, kept as a row; it is checked as a
mapping file is (the mapping schema, then its fetcher's needs and the header rules), and an
error names the key at fault. Behind ``GET/POST/PUT/DELETE /configs`` and
``dmo-pipeline configs``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import configs, credentials
from pipeline_core.exceptions import MappingError, PipelineError
from pipeline_core.mapping import MappingDocument, check_document, document_from_config_row
from pipeline_core.sources import Source

logger = logging.getLogger(__name__)


class ConfigNotFound(PipelineError):
    """No stored configuration has that name."""


def stored_sources(engine: sa.Engine) -> dict[str, Source]:
    """One source per enabled, valid stored configuration (a broken one is logged)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(configs).where(configs.c.enabled)).mappings().all()
    found = {}
    for row in rows:
        try:
            found[row["name"]] = Source.from_mapping(document_from_config_row(dict(row)))
        except MappingError as exc:
            logger.error("stored configuration left out: %s", exc)
    return found


def config_document(row: Any) -> dict[str, Any]:
    """The mapping document a row holds (as a client sends it)."""
    doc: dict[str, Any] = dict(row["scrape_config"] or {})
    doc.update(source=row["name"], dmo=row["dmo"], fetcher=row["source_type"])
    if row["base_url"]:
        doc["url"] = row["base_url"]
    if row["field_mappings"]:
        doc["fields"] = row["field_mappings"]
    doc["scrape_frequency"] = row["scrape_frequency"]
    return doc


def config_json(row: Any, credential_names: list[str]) -> dict[str, Any]:
    """A stored config as the API shows it: its document and the names of its credentials."""
    return {
        "name": row["name"],
        "dmo": row["dmo"],
        "enabled": bool(row["enabled"]),
        "document": config_document(row),
        "credentials": credential_names,
    }


def check_config(doc: dict[str, Any], name: str, fetchers: dict[str, type]) -> MappingDocument:
    """Check ``doc`` as the stored configuration ``name``; :class:`MappingError` names the key."""
    from pipeline_core.mapping.fetcher_check import check_against_fetcher, check_headers

    origin = f"pipeline.configs[{name}]"
    if doc.get("source", name) != name:
        raise MappingError(f"{origin}: at source: {doc.get('source')!r} is not {name!r}")
    doc = {**doc, "source": name}
    check_document(doc, origin)
    checked = MappingDocument(doc=doc, origin=origin)
    row = checked.to_config_row()
    # The row must give the document back: an http(s) URL, checked like every stored one.
    checked = document_from_config_row(row | {"enabled": True})
    fetcher = fetchers.get(checked.fetcher)
    if fetcher is None:
        raise MappingError(
            f"{origin}: at fetcher: no fetcher {checked.fetcher!r} (registered: "
            f"{', '.join(sorted(fetchers))})"
        )
    check_against_fetcher(checked, fetcher)
    check_headers(checked)
    return checked


def get_config(conn: sa.Connection, name: str) -> Any:
    row = conn.execute(sa.select(configs).where(configs.c.name == name)).mappings().first()
    if row is None:
        raise ConfigNotFound(f"no stored configuration {name!r}")
    return row


def save_config(conn: sa.Connection, checked: MappingDocument, *, create: bool) -> Any:
    """Insert (``create``) or replace the row of a checked document; return the row."""
    row = checked.to_config_row()
    now = datetime.now(UTC)
    exists = conn.execute(sa.select(configs.c.id).where(configs.c.name == row["name"])).scalar()
    if create and exists is not None:
        raise MappingError(f"pipeline.configs[{row['name']}]: at source: already exists")
    if exists is None:
        conn.execute(sa.insert(configs).values(**row, created_at=now, updated_at=now))
    else:
        conn.execute(sa.update(configs).where(configs.c.id == exists).values(**row, updated_at=now))
    return get_config(conn, row["name"])


def delete_config(conn: sa.Connection, name: str) -> None:
    """Delete a stored configuration and its credentials."""
    get_config(conn, name)
    conn.execute(sa.delete(credentials).where(credentials.c.config == name))
    conn.execute(sa.delete(configs).where(configs.c.name == name))
