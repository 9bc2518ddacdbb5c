"""Duplicate candidates across sources, and the decisions on them (same or different)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.api.rows import dmo_scope, not_found, value_json
from pipeline_core.api.schemas import ID, SLUG, limit_param
from pipeline_core.db.tables import duplicate_candidates
from pipeline_core.duplicates.store import DECISIONS, decide, list_candidates
from pipeline_core.exceptions import PipelineError


def _key(name: str) -> str:
    # Column labels may be SQLAlchemy's ``quoted_name`` (a str subclass orjson refuses).
    return name.encode().decode()


def list_duplicates(call: Call) -> dict[str, Any]:
    """Stored candidate pairs, best first, with their score and evidence (name similarity,
    distance, phone, website, address, any decision) and each listing's source and id
    (filter: dmo; the first ``limit`` pairs; ``total`` counts them all)."""
    q = call.query
    with call.state.engine.connect() as conn:
        if call.dmo is not None:
            dmos = [call.dmo] if q.get("dmo") in (None, call.dmo) else []
        elif q.get("dmo"):
            dmos = [q["dmo"]]
        else:
            dmos = sorted(conn.execute(sa.select(duplicate_candidates.c.dmo).distinct()).scalars())
        pairs = [
            {"dmo": dmo, **{_key(k): value_json(v) for k, v in pair.items()}}
            for dmo in dmos
            for pair in list_candidates(conn, dmo)
        ]
    pairs.sort(key=lambda p: (-p["score"], p["id"]))
    return {"items": pairs[: q["limit"]], "total": len(pairs)}


def decide_duplicate(call: Call) -> dict[str, Any]:
    """Decide that a candidate pair is the ``same`` listing or ``different`` ones; the
    decision is kept by source and external id and respected by later runs."""
    pair_id = call.path["id"]
    with call.state.engine.connect() as conn:
        found = conn.execute(
            sa.select(duplicate_candidates.c.id).where(
                duplicate_candidates.c.id == pair_id,
                dmo_scope(call, duplicate_candidates.c.dmo),
            )
        ).first()
    if found is None:
        raise not_found("duplicate candidate", pair_id)
    by = f"api key {call.key.id}" if call.key is not None else None
    try:
        decided = decide(call.state.engine, pair_id, call.body["decision"], decided_by=by)
    except PipelineError as exc:  # pragma: no cover - the pair was deleted meanwhile
        raise Problem(404, str(exc)) from None
    return {k: value_json(v) for k, v in decided.items()}


PAIR = {
    "type": "object",
    "required": ["id", "dmo", "score", "evidence", "listing_a", "listing_b"],
    "properties": {
        "id": {"type": "integer"},
        "dmo": {"type": "string"},
        "score": {"type": "number"},
        "evidence": {"type": "object"},
        "listing_a": {"type": "integer"},
        "source_a": {"type": "string"},
        "external_id_a": {"type": "string"},
        "listing_b": {"type": "integer"},
        "source_b": {"type": "string"},
        "external_id_b": {"type": "string"},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/staging/duplicates",
        list_duplicates,
        "List duplicate candidate pairs",
        "staging",
        query={
            "dmo": SLUG,
            "limit": limit_param(),
        },
        response={
            "type": "object",
            "required": ["items", "total"],
            "properties": {
                "items": {"type": "array", "items": PAIR},
                "total": {"type": "integer"},
            },
        },
    ),
    Endpoint(
        "POST",
        "/staging/duplicates/{id}/decision",
        decide_duplicate,
        "Decide a duplicate candidate pair: same or different",
        "staging",
        role="operator",
        path_params={"id": ID},
        body={
            "type": "object",
            "additionalProperties": False,
            "required": ["decision"],
            "properties": {"decision": {"enum": list(DECISIONS)}},
        },
        response={
            "type": "object",
            "required": ["candidate", "dmo", "decision"],
            "properties": {
                "candidate": {"type": "integer"},
                "dmo": {"type": "string"},
                "decision": {"enum": list(DECISIONS)},
                "source_a": {"type": "string"},
                "external_id_a": {"type": "string"},
                "source_b": {"type": "string"},
                "external_id_b": {"type": "string"},
                "decided_by": {"type": ["string", "null"]},
                "decided_at": {"type": ["string", "null"]},
            },
        },
        errors=(404,),
    ),
]
