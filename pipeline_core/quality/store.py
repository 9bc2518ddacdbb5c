"""Scores of staging listings in ``staging.listing_quality``, and each source's summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import listing_quality, sources, staging
from pipeline_core.quality.rules import RULES, ImageState, score_record, seen_at

_CHUNK = 500


def image_states(conn: sa.Connection, listing_ids: list[int]) -> dict[int, tuple[ImageState, ...]]:
    """The states of the image rows of each staging listing of ``listing_ids`` (a listing
    with none gets an empty tuple), in position order."""
    images = staging["listing_images"]
    found: dict[int, list[ImageState]] = {i: [] for i in listing_ids}
    for start in range(0, len(listing_ids), _CHUNK):
        rows = conn.execute(
            sa.select(images.c.listing_id, images.c.status, images.c.caption, images.c.credit)
            .where(images.c.listing_id.in_(listing_ids[start : start + _CHUNK]))
            .order_by(images.c.listing_id, images.c.position)
        )
        for row in rows:
            described = bool(row.caption or row.credit)
            found[row.listing_id].append(ImageState(row.status, described))
    return {i: tuple(states) for i, states in found.items()}


def score_listings(
    engine: sa.Engine,
    source: str | None = None,
    dmo: str | None = None,
    *,
    with_images: bool = False,
) -> int:
    """Score the active staging listings (of ``source`` or ``dmo`` when given; only those
    with image rows when ``with_images``, as after an ``image`` job) and store each score
    with its breakdown; returns how many were scored."""
    listings = staging["listings"]
    query = sa.select(
        listings.c.id,
        listings.c.source,
        listings.c.dmo,
        listings.c.record_hash,
        listings.c.record,
        listings.c.updated_at,
        sources.c.last_complete_crawl_at,
    ).select_from(listings.outerjoin(sources, sources.c.name == listings.c.source))
    query = query.where(listings.c.status == "active")
    if source is not None:
        query = query.where(listings.c.source == source)
    if dmo is not None:
        query = query.where(listings.c.dmo == dmo)
    if with_images:
        images = staging["listing_images"]
        query = query.where(
            sa.exists().where(images.c.listing_id == listings.c.id).correlate(listings)
        )
    now = datetime.now(UTC)
    count = 0
    with write_transaction(engine) as conn:
        rows = conn.execute(query.order_by(listings.c.id)).all()
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            states = image_states(conn, [row.id for row in chunk])
            values = []
            for row in chunk:
                seen = seen_at(row.updated_at, row.last_complete_crawl_at)
                score, breakdown = score_record(row.record, seen, now, states[row.id])
                values.append(
                    {
                        "listing_id": row.id,
                        "source": row.source,
                        "dmo": row.dmo,
                        "record_hash": row.record_hash,
                        "score": score,
                        "breakdown": breakdown,
                        "scored_at": now,
                    }
                )
            ids = [row.id for row in chunk]
            conn.execute(sa.delete(listing_quality).where(listing_quality.c.listing_id.in_(ids)))
            conn.execute(sa.insert(listing_quality), values)
            count += len(values)
    return count


@dataclass(frozen=True)
class SourceQuality:
    """A source's scored listings, their average and lowest score, and its worst rules
    (the rules that lose the most points on average, with the average points lost)."""

    source: str
    dmo: str
    listings: int
    average: float
    lowest: int
    worst_rules: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the API)."""
        return {
            "source": self.source,
            "dmo": self.dmo,
            "listings": self.listings,
            "average": self.average,
            "lowest": self.lowest,
            "worst_rules": [{"rule": r, "points_lost": p} for r, p in self.worst_rules],
        }


def source_quality(conn: sa.Connection, source: str | None = None) -> list[SourceQuality]:
    """The quality summary of each source (or of ``source``), from the stored scores of its
    active listings."""
    listings = staging["listings"]
    query = (
        sa.select(listing_quality)
        .join(listings, listings.c.id == listing_quality.c.listing_id)
        .where(
            listings.c.status == "active",
            listings.c.record_hash == listing_quality.c.record_hash,
        )
    )
    if source is not None:
        query = query.where(listing_quality.c.source == source)
    groups: dict[str, list[Any]] = {}
    for row in conn.execute(query.order_by(listing_quality.c.source)):
        groups.setdefault(row.source, []).append(row)
    out = []
    for name, rows in groups.items():
        lost = {
            rule.name: sum(rule.weight - r.breakdown[rule.name]["points"] for r in rows) / len(rows)
            for rule in RULES
        }
        worst = sorted(((k, round(v, 1)) for k, v in lost.items() if v > 0), key=lambda x: -x[1])
        out.append(
            SourceQuality(
                source=name,
                dmo=rows[0].dmo,
                listings=len(rows),
                average=round(sum(r.score for r in rows) / len(rows), 1),
                lowest=min(r.score for r in rows),
                worst_rules=worst[:3],
            )
        )
    return out


def listing_score(conn: sa.Connection, listing_id: int) -> dict[str, Any] | None:
    """The stored score and breakdown of one staging listing (for
    ``GET /staging/listings/{id}``), or None when it was not scored."""
    row = conn.execute(
        sa.select(listing_quality).where(listing_quality.c.listing_id == listing_id)
    ).first()
    if row is None:
        return None
    return {"score": row.score, "breakdown": row.breakdown, "scored_at": row.scored_at}
