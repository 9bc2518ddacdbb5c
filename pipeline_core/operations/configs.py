"""Stored source configurations (``pipeline.configs``): read, check, save, delete.

A stored configuration is the document of a mapping file, kept as a row; it is checked as a
mapping file is (the mapping schema, then its fetcher's needs and the header rules), and an
error names the key at fault. Behind ``GET/POST/PUT/DELETE /configs`` and
``dmo-pipeline configs``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml

from pipeline_core.db.tables import configs, credentials
from pipeline_core.exceptions import MappingError, PipelineError
from pipeline_core.mapping import MappingDocument, check_document, document_from_config_row
from pipeline_core.mapping.document import text_root
from pipeline_core.mapping.yaml_reader import check_bounds
from pipeline_core.sources import Source

if TYPE_CHECKING:
    from pipeline_core.transforms import Transform

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


def config_yaml(row: Any) -> str:
    """The mapping document a row holds as YAML text, as a mapping file is written (``source``,
    ``dmo``, ``fetcher`` and ``url`` first, ``fields`` last): what ``GET /configs/{name}``
    answers to ``Accept: application/yaml``, and what ``PUT`` takes back."""
    doc = config_document(row)
    first = ("source", "dmo", "fetcher", "url")
    ordered = {key: doc[key] for key in first if key in doc}
    ordered.update((k, v) for k, v in doc.items() if k not in (*first, "fields"))
    if "fields" in doc:
        ordered["fields"] = doc["fields"]
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def config_json(row: Any, credential_names: list[str]) -> dict[str, Any]:
    """A stored config as the API shows it: its document and the names of its credentials."""
    return {
        "name": row["name"],
        "dmo": row["dmo"],
        "enabled": bool(row["enabled"]),
        "document": config_document(row),
        "credentials": credential_names,
    }


def check_config(
    doc: dict[str, Any],
    name: str,
    fetchers: dict[str, type],
    *,
    transforms: Mapping[str, Transform] | None = None,
    text: str | None = None,
) -> MappingDocument:
    """Check ``doc`` as the stored configuration ``name``, as ``dmo-pipeline sources --check``
    checks a mapping file: the schema, the fetcher's needs, the header rules and, when
    ``transforms`` are given, the compiled mapping (transform names and arguments, paths,
    targets). :class:`MappingError` names the key and, given the ``text`` the document was
    read from (YAML or JSON), its line and column."""
    from pipeline_core.mapping.compile_check import located
    from pipeline_core.mapping.compiler import CompiledMapping
    from pipeline_core.mapping.fetcher_check import check_against_fetcher, check_headers

    origin = f"pipeline.configs[{name}]"
    if doc.get("source", name) != name:
        raise MappingDocument(doc, origin, text=text).error(
            ["source"], f"{doc.get('source')!r} is not {name!r}"
        )
    doc = {**doc, "source": name}
    check_bounds(doc, origin)
    _check_json_values(MappingDocument(doc, origin, text=text))
    try:
        check_document(doc, origin)
    except MappingError:
        if text is None:
            raise
        check_document(doc, origin, text_root(text))  # the same error, with its line
        raise
    checked = MappingDocument(doc=doc, origin=origin, text=text)
    row = checked.to_config_row()
    # The row must give the document back: an http(s) URL, checked like every stored one.
    try:
        checked = replace(document_from_config_row(row | {"enabled": True}), text=text)
    except MappingError as exc:
        if ": at base_url: " not in str(exc):
            raise
        raise checked.error(["url"], str(exc).split(": at base_url: ", 1)[1]) from None
    fetcher = fetchers.get(checked.fetcher)
    if fetcher is None:
        raise checked.error(
            ["fetcher"],
            f"no fetcher {checked.fetcher!r} (registered: {', '.join(sorted(fetchers))})",
        )
    check_against_fetcher(checked, fetcher)
    check_headers(checked)
    if transforms is not None:
        effective = checked.with_defaults(getattr(fetcher, "default_mapping", None) or {})
        try:
            CompiledMapping(effective, transforms)
        except MappingError as exc:
            raise located(effective, exc) from None
    return checked


def _check_json_values(doc: MappingDocument) -> None:
    """Refuse what YAML reads but a stored configuration (JSON) cannot hold: keys that are
    not text, dates and times, binary values, and numbers that are not finite."""
    stack: list[tuple[Any, list[Any]]] = [(doc.doc, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise doc.error(
                        [*path, key], f"the key {key!r} is not text; write it in quotes"
                    )
                stack.append((item, [*path, key]))
        elif isinstance(value, list):
            stack.extend((item, [*path, i]) for i, item in enumerate(value))
        elif isinstance(value, date | bytes | set) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise doc.error(
                path,
                f"{value!r} is not a JSON value; write it in quotes to keep it as text",
            )


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
