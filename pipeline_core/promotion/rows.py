"""Production rows of listings as JSON (a batch's "before" snapshot) and back, exactly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import CHILD_TABLES, production


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _from_json(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    return value


def _plain(table: sa.Table, row: sa.Row[Any]) -> dict[str, Any]:
    return {str(name): _to_json(value) for name, value in row._mapping.items() if name in table.c}


def snapshot(conn: sa.Connection, listing_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Every production row of each listing (its ``listings`` row and its child rows, ids
    included), as JSON-ready dicts: ``{listing_id: {"listings": {...}, "locations": [...]}}``."""
    ids = sorted(set(listing_ids))
    out: dict[int, dict[str, Any]] = {}
    listings = production["listings"]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(sa.select(listings).where(listings.c.id.in_(chunk))):
            out[row.id] = {"listings": _plain(listings, row)} | {n: [] for n in CHILD_TABLES}
        for name in CHILD_TABLES:
            table = production[name]
            query = sa.select(table).where(table.c.listing_id.in_(chunk)).order_by(table.c.id)
            for row in conn.execute(query):
                out[row.listing_id][name].append(_plain(table, row))
    return out


def delete_children(conn: sa.Connection, listing_ids: list[int]) -> None:
    """Delete the child rows of these production listings."""
    for start in range(0, len(listing_ids), 500):
        chunk = listing_ids[start : start + 500]
        for name in CHILD_TABLES:
            table = production[name]
            conn.execute(sa.delete(table).where(table.c.listing_id.in_(chunk)))


def restore(conn: sa.Connection, listing_id: int, rows: dict[str, Any]) -> None:
    """Put one listing's production rows back exactly as in ``rows`` (from :func:`snapshot`):
    the ``listings`` row updated in place, the child rows replaced with their old ids."""
    listings = production["listings"]
    values = {k: _from_json(listings.c[k], v) for k, v in rows["listings"].items() if k != "id"}
    conn.execute(sa.update(listings).where(listings.c.id == listing_id).values(**values))
    delete_children(conn, [listing_id])
    for name in CHILD_TABLES:
        table = production[name]
        children = [{k: _from_json(table.c[k], v) for k, v in r.items()} for r in rows[name]]
        if children:
            conn.execute(sa.insert(table), children)
