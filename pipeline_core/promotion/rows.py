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


def update_listings(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Update production listing rows by ``id`` (every row names the same columns): one
    statement, executed for all rows at once."""
    if not rows:
        return
    listings = production["listings"]
    columns = [name for name in rows[0] if name != "id"]
    statement = (
        sa.update(listings)
        .where(listings.c.id == sa.bindparam("_id"))
        .values({name: sa.bindparam("_" + name) for name in columns})
    )
    conn.execute(statement, [{"_" + k: v for k, v in row.items()} for row in rows])


def restore_many(conn: sa.Connection, before: dict[int, dict[str, Any]]) -> None:
    """Put listings' production rows back exactly as in ``before`` (listing id → rows from
    :func:`snapshot`): the ``listings`` rows updated in place, the child rows replaced with
    their old ids."""
    listings = production["listings"]
    ids = sorted(before)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        update_listings(
            conn,
            [
                {k: _from_json(listings.c[k], v) for k, v in before[i]["listings"].items()}
                for i in chunk
            ],
        )
        delete_children(conn, chunk)
        for name in CHILD_TABLES:
            table = production[name]
            children = [
                {k: _from_json(table.c[k], v) for k, v in r.items()}
                for i in chunk
                for r in before[i][name]
            ]
            if children:
                conn.execute(sa.insert(table), children)
