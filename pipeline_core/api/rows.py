"""Rows as JSON, keyset pages, and the DMO scope of a key applied to queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call
from pipeline_core.api.problems import Problem
from pipeline_core.api.state import ApiState
from pipeline_core.db.tables import configs, sources


def value_json(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def row_json(row: Mapping[Any, Any], columns: Iterable[str] | None = None) -> dict[str, Any]:
    """A row as a JSON object (times in ISO 8601, UTC)."""
    names = list(columns) if columns is not None else list(row.keys())
    return {str(name): value_json(row[name]) for name in names}


def page(items: list[dict[str, Any]], limit: int, cursor: str = "id") -> dict[str, Any]:
    """A page of a list: ``items`` and ``next`` (the ``after`` of the next page, or null)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": items[-1][cursor] if more and items else None}


def dmo_sources(call: Call, conn: sa.Connection, dmo: str) -> list[str]:
    """Names of the sources of ``dmo``: crawled ones, stored configs, files and plugins."""
    return sources_of_dmo(call.state, conn, dmo)


def sources_of_dmo(state: ApiState, conn: sa.Connection, dmo: str) -> list[str]:
    """:func:`dmo_sources` of an app's state (for pages that are not endpoints)."""
    names = set(conn.execute(sa.select(sources.c.name).where(sources.c.dmo == dmo)).scalars())
    names |= set(conn.execute(sa.select(configs.c.name).where(configs.c.dmo == dmo)).scalars())
    names |= {name for name, source in state.static_sources().items() if source.dmo == dmo}
    return sorted(names)


def source_scope(call: Call, conn: sa.Connection, column: sa.ColumnElement[Any]) -> Any:
    """A condition keeping rows of the key's DMO's sources (true for unscoped keys)."""
    if call.dmo is None:
        return sa.true()
    return column.in_(dmo_sources(call, conn, call.dmo))


def dmo_scope(call: Call, column: sa.ColumnElement[Any]) -> Any:
    """A condition keeping rows whose DMO column is the key's DMO (true for unscoped keys)."""
    if call.dmo is None:
        return sa.true()
    return column == call.dmo


def acting_dmo(call: Call, given: str | None) -> str | None:
    """The DMO a request acts for: the key's, or the ``dmo`` given for an unscoped key (None:
    any). 403 when a scoped key names another DMO."""
    if call.dmo is None:
        return given
    if given not in (None, call.dmo):
        raise Problem(403, f"this key acts for DMO {call.dmo!r} only")
    return call.dmo


def required_dmo(call: Call, given: str | None, where: str, purpose: str) -> str:
    """:func:`acting_dmo`, and 422 naming ``dmo`` (in the body or query: ``where``) when
    none is known: an unscoped key must name the DMO of ``purpose``."""
    dmo = acting_dmo(call, given)
    if dmo is None:
        from pipeline_core.api.problems import field_problem

        raise field_problem(422, where, "dmo", f"required: {purpose}")
    return dmo


def not_found(kind: str, ident: object) -> Problem:
    """404 for an id that does not exist or belongs to another DMO (the same answer)."""
    return Problem(
        404, f"no {kind} {ident}", errors=[{"in": "path", "name": "id", "detail": "not found"}]
    )


def check_source(call: Call, conn: sa.Connection, name: str, where: str = "body") -> None:
    """404-like 422 unless ``name`` is a source the key may act on."""
    known = set(call.state.sources())
    if call.dmo is not None:
        known &= set(dmo_sources(call, conn, call.dmo))
    if name not in known:
        raise Problem(
            422,
            f"{where} source: no source named {name!r}",
            errors=[{"in": where, "name": "source", "detail": f"no source named {name!r}"}],
        )
