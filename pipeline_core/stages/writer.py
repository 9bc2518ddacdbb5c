"""Stage-write: batched upsert of mapped listings into the staging tables.

One statement per table per batch. The listings upsert skips rows whose stored hash is the
same (``ON CONFLICT ... DO UPDATE ... WHERE record_hash IS DISTINCT FROM ...``); child rows
are replaced only for listings that were inserted or changed. The caller owns the
transaction, so a failed batch leaves staging as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline_core.db.tables import CHILD_TABLES, staging
from pipeline_core.items import ListingItem
from pipeline_core.model import I18N_FIELDS

_CONTACT_KINDS = ("phone", "email", "website", "fax")
#: Listing columns an update rewrites (``created_at`` stays as first written).
_UPDATED_COLUMNS = (
    "dmo",
    "category",
    "status",
    "record_hash",
    "raw_hash",
    "duplicate_of",
    "record",
    "licence",
    "attribution",
    "crawl_id",
    "updated_at",
    "withdrawn_at",
    "warnings",
)


@dataclass
class WriteResult:
    """What one batch wrote."""

    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rows_written: int = 0
    staged: list[dict[str, Any]] = field(default_factory=list)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def child_rows(listing_id: int, record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each child table for one canonical record."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILD_TABLES}
    languages: dict[str, dict[str, Any]] = {}
    for field_name in sorted(I18N_FIELDS):
        for language, text in (record.get(field_name) or {}).items():
            languages.setdefault(language, {"listing_id": listing_id, "language": language})[
                field_name
            ] = text
    for row in languages.values():
        for field_name in I18N_FIELDS:
            row.setdefault(field_name, None)
        rows["listing_info"].append(row)
    location = record.get("location")
    if location:
        rows["locations"].append(
            {
                "listing_id": listing_id,
                "street": location.get("street"),
                "postal_code": location.get("postal_code"),
                "locality": location.get("locality"),
                "region": location.get("region"),
                "country": location.get("country"),
                "latitude": location.get("latitude"),
                "longitude": location.get("longitude"),
            }
        )
    contact = record.get("contact") or {}
    for kind in _CONTACT_KINDS:
        if contact.get(kind):
            rows["contact_info"].append(
                {"listing_id": listing_id, "kind": kind, "value": contact[kind]}
            )
    for position, image in enumerate(record.get("images") or []):
        rows["listing_images"].append(
            {
                "listing_id": listing_id,
                "position": position,
                "url": image["url"],
                "caption": image.get("caption"),
                "credit": image.get("credit"),
                "licence": image.get("licence"),
            }
        )
    for name, value in (record.get("attributes") or {}).items():
        for item in value if isinstance(value, list) else [value]:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            rows["attributes"].append({"listing_id": listing_id, "name": name, "value": text})
    for hours in record.get("opening_hours") or []:
        rows["opening_hours"].append(
            {
                "listing_id": listing_id,
                "weekday": hours["weekday"],
                "opens": hours.get("opens"),
                "closes": hours.get("closes"),
                "closed": bool(hours.get("closed", False)),
                "valid_from": _date(hours.get("valid_from")),
                "valid_to": _date(hours.get("valid_to")),
            }
        )
    for special in record.get("opening_dates") or []:
        rows["opening_dates"].append(
            {
                "listing_id": listing_id,
                "date": _date(special["date"]),
                "end_date": _date(special.get("end_date")),
                "opens": special.get("opens"),
                "closes": special.get("closes"),
                "closed": bool(special.get("closed", False)),
                "note": special.get("note"),
            }
        )
    return rows


class StageWriter:
    """Writes batches of :class:`ListingItem` into one set of listing tables (staging)."""

    def __init__(self, dialect_name: str, tables: dict[str, sa.Table] | None = None) -> None:
        self.tables = tables or staging
        self.listings = listings = self.tables["listings"]
        self.dialect_name = dialect_name
        # Rows of a batch go to a temporary table first (COPY on PostgreSQL), then one
        # statement merges them: compiled once, whatever the batch size.
        self.columns = [c.name for c in listings.columns if c.name != "id"]
        self.has_warnings = "warnings" in self.columns  # staging only
        self.temp = sa.Table(
            f"_batch_{listings.name}",
            sa.MetaData(),
            *(sa.Column(c.name, c.type) for c in listings.columns if c.name != "id"),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DELETE ROWS",
        )
        insert = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(listings)
        excluded = insert.excluded
        self.merge = (
            insert.from_select(
                self.columns,
                sa.select(*(self.temp.c[name] for name in self.columns)).where(sa.true()),
            )
            .on_conflict_do_update(
                index_elements=[listings.c.source, listings.c.external_id],
                set_={name: excluded[name] for name in _UPDATED_COLUMNS if name in self.columns},
                where=sa.or_(
                    listings.c.record_hash.is_distinct_from(excluded.record_hash),
                    listings.c.status != "active",
                ),
            )
            .returning(
                listings.c.id,
                listings.c.external_id,
                (listings.c.created_at == listings.c.updated_at).label("inserted"),
            )
        )

    def _upsert(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> list[Any]:
        conn.execute(sa.schema.CreateTable(self.temp, if_not_exists=True))
        if self.dialect_name != "postgresql":  # PostgreSQL empties it at commit
            conn.execute(sa.delete(self.temp))
        self._insert_rows(conn, self.temp, rows)
        return list(conn.execute(self.merge).all())

    def _insert_rows(
        self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> None:
        """Insert child rows: one COPY on PostgreSQL, one prepared executemany on SQLite."""
        if self.dialect_name != "postgresql":
            conn.execute(sa.insert(table), rows)
            return
        columns = list(rows[0])
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        quoted = ", ".join(f'"{c}"' for c in columns)
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        json_columns = [i for i, c in enumerate(columns) if c in ("record", "warnings")]
        with dbapi.cursor() as cursor:
            with cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    values = [row[c] for c in columns]
                    for index in json_columns:
                        if values[index] is not None:
                            values[index] = orjson.dumps(values[index]).decode()
                    copy.write_row(values)

    def write(
        self, conn: sa.Connection, items: Sequence[ListingItem], crawl_id: int | None = None
    ) -> WriteResult:
        """Upsert ``items`` (changed or new listings) and replace their child rows."""
        result = WriteResult()
        by_id: dict[str, ListingItem] = {}
        for item in items:  # the last of two records with one id wins, as in a re-crawl
            by_id[item.external_id] = item
        if not by_id:
            return result
        now = datetime.now(UTC)
        rows = []
        for item in by_id.values():
            record = item.record
            licence = record.get("licence") or {}
            rows.append(
                {
                    "source": item.source,
                    "external_id": item.external_id,
                    "dmo": record["dmo"],
                    "category": record["category"],
                    "status": "active",
                    "record_hash": item.record_hash,
                    "raw_hash": item.raw_hash,
                    "duplicate_of": None,
                    "record": record,
                    "licence": licence.get("name"),
                    "attribution": licence.get("attribution"),
                    "crawl_id": crawl_id,
                    "created_at": now,
                    "updated_at": now,
                    "withdrawn_at": None,
                }
            )
            if self.has_warnings:
                rows[-1]["warnings"] = item.warnings
        returned = self._upsert(conn, rows)
        result.rows_written += len(returned)
        if not returned:
            return result

        updated_ids = [row.id for row in returned if not row.inserted]
        result.updated = len(updated_ids)
        result.inserted = len(returned) - result.updated
        if updated_ids:
            for name in CHILD_TABLES:
                table = self.tables[name]
                deleted = conn.execute(sa.delete(table).where(table.c.listing_id.in_(updated_ids)))
                result.rows_written += max(deleted.rowcount, 0)

        children: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILD_TABLES}
        for row in returned:
            item = by_id[row.external_id]
            for name, child in child_rows(row.id, item.record).items():
                children[name].extend(child)
            result.staged.append(
                {
                    "id": row.id,
                    "external_id": row.external_id,
                    "record_hash": item.record_hash,
                    "raw_hash": item.raw_hash,
                    "action": "inserted" if row.inserted else "updated",
                    "record": item.record,
                }
            )
        for name, child in children.items():
            if child:
                self._insert_rows(conn, self.tables[name], child)
                result.rows_written += len(child)

        result.duplicates, flagged = self._flag_duplicates(conn, result.staged)
        result.rows_written += flagged
        return result

    def _flag_duplicates(
        self, conn: sa.Connection, staged: Sequence[dict[str, Any]]
    ) -> tuple[int, int]:
        """Keep ``duplicate_of`` right for every hash group the batch touched.

        Every active listing of a hash group points at the group's oldest active listing
        (lowest id), which points nowhere. Listings that pointed at a listing of this batch
        whose hash changed lose their pointer (and their group is checked again). Returns
        the batch's listings that are duplicates, and the rows written.
        """
        listings = self.listings
        written = {row["id"]: row["record_hash"] for row in staged}
        hashes = set(written.values())
        rows_written = 0
        target = listings.alias("target")
        # Only a listing that was there before can have others pointing at it: a listing
        # inserted by this batch has a new id (and asking for it costs the database a scan
        # of the table while it fills up)
        ids = sorted(row["id"] for row in staged if row["action"] != "inserted")
        for start in range(0, len(ids), 1000):
            stale = conn.execute(
                sa.select(listings.c.id, listings.c.record_hash)
                .join(target, target.c.id == listings.c.duplicate_of)
                .where(
                    listings.c.duplicate_of.in_(ids[start : start + 1000]),
                    listings.c.record_hash != target.c.record_hash,
                )
            ).all()
            if stale:
                conn.execute(
                    sa.update(listings)
                    .where(listings.c.id.in_([row.id for row in stale]))
                    .values(duplicate_of=None)
                )
                rows_written += len(stale)
                hashes.update(row.record_hash for row in stale)
        originals = self._originals(conn, sorted(hashes))
        rows_written += self._point_groups(conn, originals)
        duplicates = sum(1 for lid, h in written.items() if h in originals and originals[h] != lid)
        return duplicates, rows_written

    def _point_groups(self, conn: sa.Connection, originals: dict[str, int]) -> int:
        """Point every active listing of each hash group at its original (``originals``:
        hash → oldest active listing) and clear the original's own pointer; rows written."""
        listings = self.listings
        if not originals:
            return 0
        params = [{"h": h, "orig": orig} for h, orig in originals.items()]
        pointed = conn.execute(
            sa.update(listings)
            .where(
                listings.c.record_hash == sa.bindparam("h"),
                listings.c.status == "active",
                listings.c.id != sa.bindparam("orig"),
                listings.c.duplicate_of.is_distinct_from(sa.bindparam("orig")),
            )
            .values(duplicate_of=sa.bindparam("orig")),
            params,
        )
        cleared = conn.execute(
            sa.update(listings)
            .where(listings.c.id == sa.bindparam("orig"), listings.c.duplicate_of.is_not(None))
            .values(duplicate_of=None),
            [{"orig": orig} for orig in originals.values()],
        )
        return max(pointed.rowcount, 0) + max(cleared.rowcount, 0)

    def regroup_withdrawn(self, conn: sa.Connection, source: str, external_ids: list[str]) -> int:
        """After listings of ``source`` were withdrawn: clear their ``duplicate_of`` and the
        pointers at them, and point what is left of each of their hash groups at its oldest
        active listing. Returns the rows written."""
        listings = self.listings
        hashes: set[str] = set()
        rows_written = 0
        for start in range(0, len(external_ids), 1000):
            rows = conn.execute(
                sa.select(listings.c.id, listings.c.record_hash).where(
                    listings.c.source == source,
                    listings.c.status == "withdrawn",
                    listings.c.external_id.in_(external_ids[start : start + 1000]),
                )
            ).all()
            ids = [row.id for row in rows]
            hashes.update(row.record_hash for row in rows)
            if ids:
                cleared = conn.execute(
                    sa.update(listings)
                    .where(
                        sa.or_(listings.c.id.in_(ids), listings.c.duplicate_of.in_(ids)),
                        listings.c.duplicate_of.is_not(None),
                    )
                    .values(duplicate_of=None)
                )
                rows_written += max(cleared.rowcount, 0)
        return rows_written + self._point_groups(conn, self._originals(conn, sorted(hashes)))

    def _originals(self, conn: sa.Connection, hashes: list[str]) -> dict[str, int]:
        """Hash → oldest active listing, for the hashes that two or more listings have."""
        listings = self.listings
        originals: dict[str, int] = {}
        if not hashes:
            return originals
        if self.dialect_name == "postgresql":
            # A join with the array, not IN (...): without fresh statistics (a table filling
            # up during a load) PostgreSQL plans a long IN list as a scan of the whole table.
            query = sa.text(
                f"SELECT l.record_hash, min(l.id) FROM {listings.schema}.{listings.name} l "
                "JOIN unnest(CAST(:hashes AS text[])) AS h(record_hash) "
                "ON l.record_hash = h.record_hash WHERE l.status = 'active' "
                "GROUP BY l.record_hash HAVING count(*) > 1"
            )
            originals.update({h: i for h, i in conn.execute(query, {"hashes": hashes}).all()})
            return originals
        for start in range(0, len(hashes), 1000):
            grouped = (
                sa.select(listings.c.record_hash, sa.func.min(listings.c.id))
                .where(
                    listings.c.record_hash.in_(hashes[start : start + 1000]),
                    listings.c.status == "active",
                )
                .group_by(listings.c.record_hash)
                .having(sa.func.count() > 1)
            )
            originals.update({h: i for h, i in conn.execute(grouped).all()})
        return originals
