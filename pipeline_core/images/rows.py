"""The image tables: ``pipeline.images`` (one row per URL) and ``listing_images``.

``pipeline.images`` remembers, for each URL, its validators (ETag, Last-Modified) and what
was stored for its content, so a listing whose rows the stage writer replaced gets them
back without a download, and a later run asks the server with a conditional request.
``staging.listing_images`` rows carry the same facts for their listing, and their status:
``pending`` (as the stage writer leaves them), ``stored`` or ``failed`` with the error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline_core.db.tables import errors, images, staging


def url_hash(url: str) -> str:
    """The key of a URL's ``pipeline.images`` row: SHA-256 of the URL (hex)."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Target:
    """One ``staging.listing_images`` row to fill."""

    id: int
    listing_id: int
    external_id: str
    position: int
    url: str
    status: str
    content_hash: str | None
    error: str | None


def targets(conn: sa.Connection, source: str, *, refresh: bool) -> list[Target]:
    """The image rows of ``source``'s active listings: the ``pending`` ones, or every one
    when ``refresh``."""
    rows, listings = staging["listing_images"], staging["listings"]
    query = (
        sa.select(
            rows.c.id,
            rows.c.listing_id,
            listings.c.external_id,
            rows.c.position,
            rows.c.url,
            rows.c.status,
            rows.c.content_hash,
            rows.c.error,
        )
        .join(listings, listings.c.id == rows.c.listing_id)
        .where(listings.c.source == source, listings.c.status == "active")
        .order_by(rows.c.listing_id, rows.c.position)
    )
    if not refresh:
        query = query.where(rows.c.status == "pending")
    return [Target(*row) for row in conn.execute(query).all()]


def has_pending(conn: sa.Connection, source: str) -> bool:
    """True when an active listing of ``source`` has an image row not yet processed."""
    rows, listings = staging["listing_images"], staging["listings"]
    query = (
        sa.select(rows.c.id)
        .join(listings, listings.c.id == rows.c.listing_id)
        .where(
            listings.c.source == source,
            listings.c.status == "active",
            rows.c.status == "pending",
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def known(conn: sa.Connection, urls: list[str]) -> dict[str, dict[str, Any]]:
    """The ``pipeline.images`` rows of ``urls``, by URL."""
    found: dict[str, dict[str, Any]] = {}
    hashes = [url_hash(u) for u in urls]
    for start in range(0, len(hashes), 500):
        query = sa.select(images).where(images.c.url_hash.in_(hashes[start : start + 500]))
        for row in conn.execute(query).mappings():
            found[row["url"]] = dict(row)
    return found


def stored_content(conn: sa.Connection, content_hash: str, spec: str) -> dict[str, Any] | None:
    """A stored row of the same content made with the same recipe, if any (content dedup)."""
    query = (
        sa.select(images)
        .where(
            images.c.content_hash == content_hash,
            images.c.spec == spec,
            images.c.status == "stored",
        )
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def save_url(conn: sa.Connection, url: str, values: dict[str, Any]) -> None:
    """Insert or update the ``pipeline.images`` row of ``url``."""
    now = datetime.now(UTC)
    row = {"url_hash": url_hash(url), "url": url, "updated_at": now} | values
    insert_of = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert_of(images).values(**row)
    update = {k: stmt.excluded[k] for k in row if k not in ("url_hash", "url")}
    conn.execute(stmt.on_conflict_do_update(index_elements=[images.c.url_hash], set_=update))


#: Columns of ``listing_images`` an image run fills, from a ``pipeline.images`` row.
FILLED = ("width", "height", "bytes", "content_hash", "original_key", "variants")


def fill(conn: sa.Connection, ids: list[int], values: dict[str, Any]) -> int:
    """Set ``values`` on the ``listing_images`` rows ``ids``; rows written."""
    table = staging["listing_images"]
    written = 0
    for start in range(0, len(ids), 500):
        result = conn.execute(
            sa.update(table).where(table.c.id.in_(ids[start : start + 500])).values(**values)
        )
        written += max(result.rowcount, 0)
    return written


def image_errors(
    conn: sa.Connection, source: str
) -> dict[tuple[str | None, str | None, str | None], int]:
    """The image error rows of ``source``: (external id, field, URL) → the newest row's id."""
    query = (
        sa.select(errors.c.id, errors.c.external_id, errors.c.field, errors.c.url)
        .where(errors.c.source == source, errors.c.stage == "image")
        .order_by(errors.c.id)
    )
    return {(e, f, u): int(i) for i, e, f, u in conn.execute(query).all()}


def update_error(conn: sa.Connection, error_id: int, error: dict[str, Any]) -> None:
    """Make the error row ``error_id`` say ``error`` (an :class:`ErrorSink` row): its
    message, job and time."""
    values = {k: error[k] for k in ("message", "job_id", "created_at")}
    conn.execute(sa.update(errors).where(errors.c.id == error_id).values(**values))
