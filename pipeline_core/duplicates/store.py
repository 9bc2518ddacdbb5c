"""Candidate pairs and decisions in the database: stored, listed, decided, respected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import duplicate_candidates, duplicate_decisions, staging
from pipeline_core.exceptions import PipelineError

DECISIONS = ("same", "different")


def _keys(conn: sa.Connection, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    listings = staging["listings"]
    rows = conn.execute(
        sa.select(listings.c.id, listings.c.source, listings.c.external_id).where(
            listings.c.id.in_(list(ids))
        )
    )
    return {row.id: (row.source, row.external_id) for row in rows}


def decisions(conn: sa.Connection, dmo: str) -> dict[frozenset[tuple[str, str]], str]:
    """The DMO's decisions: the pair of (source, external id) → ``same`` or ``different``."""
    rows = conn.execute(sa.select(duplicate_decisions).where(duplicate_decisions.c.dmo == dmo))
    return {
        frozenset({(r.source_a, r.external_id_a), (r.source_b, r.external_id_b)}): r.decision
        for r in rows
    }


def decide(
    engine: sa.Engine, candidate_id: int, decision: str, decided_by: str | None = None
) -> dict[str, Any]:
    """Record that candidate pair ``candidate_id`` is the ``same`` listing or ``different``
    ones; kept by source and external id, so later runs respect it."""
    if decision not in DECISIONS:
        raise PipelineError(f"decision {decision!r} is not one of: {', '.join(DECISIONS)}")
    with write_transaction(engine) as conn:
        pair = conn.execute(
            sa.select(duplicate_candidates).where(duplicate_candidates.c.id == candidate_id)
        ).first()
        if pair is None:
            raise PipelineError(f"there is no duplicate candidate {candidate_id}")
        keys = _keys(conn, [pair.listing_a, pair.listing_b])
        (source_a, id_a), (source_b, id_b) = keys[pair.listing_a], keys[pair.listing_b]
        table = duplicate_decisions
        conn.execute(
            sa.delete(table).where(
                sa.or_(
                    sa.and_(
                        table.c.source_a == source_a,
                        table.c.external_id_a == id_a,
                        table.c.source_b == source_b,
                        table.c.external_id_b == id_b,
                    ),
                    sa.and_(
                        table.c.source_a == source_b,
                        table.c.external_id_a == id_b,
                        table.c.source_b == source_a,
                        table.c.external_id_b == id_a,
                    ),
                )
            )
        )
        values = {
            "dmo": pair.dmo,
            "source_a": source_a,
            "external_id_a": id_a,
            "source_b": source_b,
            "external_id_b": id_b,
            "decision": decision,
            "decided_by": decided_by,
            "decided_at": datetime.now(UTC),
        }
        conn.execute(sa.insert(table).values(**values))
    return values | {"candidate": candidate_id}


def confirmed_pairs(conn: sa.Connection, dmo: str, ids: Sequence[int]) -> list[tuple[int, int]]:
    """Pairs decided ``same`` among staging listings, as (kept, merged) staging ids, for the
    pairs where one of ``ids`` is involved: the older listing (lower id) is kept."""
    same = [pair for pair, d in decisions(conn, dmo).items() if d == "same"]
    if not same:
        return []
    listings = staging["listings"]
    wanted = {key for pair in same for key in pair}
    rows = conn.execute(
        sa.select(listings.c.id, listings.c.source, listings.c.external_id).where(
            listings.c.dmo == dmo, listings.c.status == "active"
        )
    )
    id_of = {(r.source, r.external_id): r.id for r in rows if (r.source, r.external_id) in wanted}
    touched = set(ids)
    out = []
    for pair in same:
        a, b = sorted(pair)
        if a in id_of and b in id_of:
            kept, merged = sorted((id_of[a], id_of[b]))
            if kept in touched or merged in touched:
                out.append((kept, merged))
    return out


def find_duplicates(
    engine: sa.Engine, dmo: str, threshold: float | None = None
) -> list[dict[str, Any]]:
    """Run the finder over the DMO's active staging listings and store its candidate pairs
    (replacing the DMO's earlier ones). Pairs decided ``different`` are left out; pairs
    decided ``same`` carry the decision. Returns the stored pairs, best first."""
    from pipeline_core.duplicates.match import THRESHOLD, entry, find

    listings = staging["listings"]
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(listings.c.id, listings.c.source, listings.c.external_id, listings.c.record)
            .where(listings.c.dmo == dmo, listings.c.status == "active")
            .order_by(listings.c.id)
        ).all()
        key_of = {row.id: (row.source, row.external_id) for row in rows}
        decided = decisions(conn, dmo)
        found = find(
            (entry(row.id, row.source, row.record) for row in rows),
            THRESHOLD if threshold is None else threshold,
        )
        stored = []
        for pair in found:
            decision = decided.get(frozenset({key_of[pair.a], key_of[pair.b]}))
            if decision == "different":
                continue
            stored.append(
                {
                    "dmo": dmo,
                    "listing_a": pair.a,
                    "listing_b": pair.b,
                    "score": pair.score,
                    "evidence": pair.evidence | ({"decision": decision} if decision else {}),
                    "found_at": now,
                }
            )
        conn.execute(sa.delete(duplicate_candidates).where(duplicate_candidates.c.dmo == dmo))
        if stored:
            conn.execute(sa.insert(duplicate_candidates), stored)
        return list_candidates(conn, dmo)


def list_candidates(conn: sa.Connection, dmo: str) -> list[dict[str, Any]]:
    """The DMO's stored candidate pairs, best first, with each listing's source and id."""
    a, b = staging["listings"].alias("a"), staging["listings"].alias("b")
    table = duplicate_candidates
    query = (
        sa.select(
            table.c.id,
            table.c.score,
            table.c.evidence,
            table.c.listing_a,
            a.c.source.label("source_a"),
            a.c.external_id.label("external_id_a"),
            table.c.listing_b,
            b.c.source.label("source_b"),
            b.c.external_id.label("external_id_b"),
        )
        .join(a, a.c.id == table.c.listing_a)
        .join(b, b.c.id == table.c.listing_b)
        .where(table.c.dmo == dmo)
        .order_by(table.c.score.desc(), table.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
