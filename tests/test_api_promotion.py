"""Issue 13 over the API: promotion jobs, batches and rollback, quality scores, duplicate
pairs and decisions, exports, and the row-level-security engines of DMO-scoped keys."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from api_kit import PREFIX, app_maker, bearer, http_client, mapping_doc

from pipeline_core.db.tables import configs, duplicate_decisions, production, staging
from pipeline_core.mapping import MappingDocument
from pipeline_core.operations.keys import create_key

OWN, OTHER = "dmo-a", "dmo-b"
PHONE = "+43 660 1234567"
HOST = "Maria Huber"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _source(engine: sa.Engine, dmo: str, suffix: str = "") -> str:
    """A stored config of ``dmo`` that flags the phone and the host as personal data."""
    name = f"bnb-{dmo}{suffix}"
    doc = mapping_doc(name, dmo) | {"personal_data": ["contact.phone", "attributes.host"]}
    with engine.begin() as conn:
        conn.execute(sa.insert(configs).values(**MappingDocument(doc, "t").to_config_row()))
    return name


def _listing(engine: sa.Engine, source: str, dmo: str, external_id: str, name: str) -> int:
    record = {
        "name": {"en": name},
        "description": {"en": f"{name}, run by {HOST}. Call {PHONE}."},
        "language": "en",
        "category": "accommodation",
        "contact": {"phone": PHONE, "email": "info@example.org"},
        "attributes": {"host": HOST},
        "location": {"latitude": 47.26, "longitude": 11.39, "country": "AT"},
    }
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(staging["listings"])
                .values(
                    source=source,
                    external_id=external_id,
                    dmo=dmo,
                    category="accommodation",
                    record_hash=(external_id * 64)[:64],
                    record=record,
                    created_at=now,
                    updated_at=now,
                )
                .returning(staging["listings"].c.id)
            ).scalar_one()
        )


def _keys(engine: sa.Engine) -> dict[str, dict[str, str]]:
    return {
        "admin": bearer(create_key(engine, role="admin")[1]),
        "viewer": bearer(create_key(engine, role="viewer")[1]),
        "admin@own": bearer(create_key(engine, role="admin", dmo=OWN)[1]),
        "operator@own": bearer(create_key(engine, role="operator", dmo=OWN)[1]),
        "viewer@other": bearer(create_key(engine, role="viewer", dmo=OTHER)[1]),
        "admin@other": bearer(create_key(engine, role="admin", dmo=OTHER)[1]),
    }


def _process(client: Any, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    answer = client.post(
        PREFIX + "/queue/process", json={"budget_seconds": 5}, headers=keys["admin"]
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_promote_queues_a_job_and_batches_roll_back(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    keys = _keys(engine)
    source = _source(engine, OWN)
    first = _listing(engine, source, OWN, "A", "Alpine Hut")
    _listing(engine, source, OWN, "B", "Lake Inn")

    refused = client.post(
        PREFIX + "/staging/promote", json={"dmo": OWN}, headers=keys["admin@other"]
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this key acts for DMO 'dmo-b' only"
    missing = client.post(PREFIX + "/staging/promote", json={}, headers=keys["admin"])
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"in": "body", "name": "dmo", "detail": "required: the DMO to promote"}
    ]

    dry = client.post(
        PREFIX + "/staging/promote", json={"dry_run": True}, headers=keys["admin@own"]
    )
    assert dry.status_code == 202, dry.text
    assert (dry.json()["type"], dry.json()["payload"], dry.json()["dmo"]) == (
        "promote",
        {"dmo": OWN, "dry_run": True},
        OWN,
    )
    dry_ran = _process(client, keys)
    assert [(j["type"], j["status"]) for j in dry_ran["jobs"]] == [("promote", "completed")]
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(production["listings"])).scalar()
            == 0
        )

    job = client.post(
        PREFIX + "/staging/promote",
        json={"source": source, "ids": [first]},
        headers=keys["admin@own"],
    )
    assert job.status_code == 202, job.text
    assert job.json()["payload"] == {"dmo": OWN, "source": source, "ids": [first]}
    ran = _process(client, keys)
    assert [(j["type"], j["status"]) for j in ran["jobs"]] == [("promote", "completed")]
    with engine.connect() as conn:
        names = conn.execute(sa.select(production["listings"].c.external_id)).scalars().all()
    assert names == ["A"]

    batches = client.get(PREFIX + "/staging/promotions", headers=keys["viewer"]).json()["items"]
    assert [(b["kind"], b["status"], b["counts"]["inserted"]) for b in batches] == [
        ("promote", "completed", 1)
    ]
    batch = batches[0]["id"]
    assert client.get(PREFIX + "/staging/promotions", headers=keys["viewer@other"]).json() == {
        "items": [],
        "next": None,
    }
    shown = client.get(PREFIX + f"/staging/promotions/{batch}", headers=keys["admin@own"])
    assert shown.status_code == 200
    changes = shown.json()["changes"]
    assert [(c["external_id"], c["action"], c["staging_id"]) for c in changes] == [
        ("A", "inserted", first)
    ]
    for label in ("viewer@other", "admin@other"):
        hidden = client.get(PREFIX + f"/staging/promotions/{batch}", headers=keys[label])
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == f"no promotion batch {batch}"
    other_rollback = client.post(
        PREFIX + f"/staging/promotions/{batch}/rollback", headers=keys["admin@other"]
    )
    assert other_rollback.status_code == 404
    viewer_rollback = client.post(
        PREFIX + f"/staging/promotions/{batch}/rollback", headers=keys["viewer"]
    )
    assert viewer_rollback.status_code == 403

    undone = client.post(
        PREFIX + f"/staging/promotions/{batch}/rollback", headers=keys["admin@own"]
    )
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert (body["rollback_of"], body["dmo"], body["status"]) == (batch, OWN, "completed")
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(production["listings"])).scalar()
            == 0
        )
    again = client.post(PREFIX + f"/staging/promotions/{batch}/rollback", headers=keys["admin"])
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"batch {batch} was rolled back already, by batch {body['batch']}"
    )
    kinds = client.get(PREFIX + "/staging/promotions?kind=rollback", headers=keys["viewer"]).json()[
        "items"
    ]
    assert [(b["id"], b["rollback_of"]) for b in kinds] == [(body["batch"], batch)]


def test_quality_in_listing_and_sources(make_app: Any) -> None:
    from pipeline_core.quality.store import score_listings

    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    keys = _keys(engine)
    source = _source(engine, OWN)
    one = _listing(engine, source, OWN, "A", "Alpine Hut")
    _listing(engine, source, OWN, "B", "Lake Inn")
    unscored = client.get(PREFIX + f"/staging/listings/{one}", headers=keys["viewer"]).json()
    assert unscored["quality"] is None
    assert score_listings(engine, dmo=OWN) == 2

    shown = client.get(PREFIX + f"/staging/listings/{one}", headers=keys["operator@own"])
    assert shown.status_code == 200
    quality = shown.json()["quality"]
    with engine.connect() as conn:
        from pipeline_core.quality.store import listing_score, source_quality

        stored = listing_score(conn, one)
        summary = source_quality(conn, source)[0]
    assert stored is not None
    assert quality["score"] == stored["score"]
    assert quality["breakdown"] == stored["breakdown"]
    assert 0 <= quality["score"] <= 100
    assert sum(rule["points"] for rule in quality["breakdown"].values()) == quality["score"]

    items = client.get(PREFIX + "/sources", headers=keys["viewer"]).json()["items"]
    mine = next(i for i in items if i["name"] == source)
    assert mine["quality"] == {
        "listings": 2,
        "average": summary.average,
        "lowest": summary.lowest,
        "worst_rules": [{"rule": r, "points_lost": p} for r, p in summary.worst_rules],
    }
    others = client.get(PREFIX + "/sources", headers=keys["viewer@other"]).json()["items"]
    assert source not in [i["name"] for i in others]


def test_duplicates_listed_and_decided_by_dmo(make_app: Any) -> None:
    from pipeline_core.duplicates.store import find_duplicates

    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    keys = _keys(engine)
    source, source2 = _source(engine, OWN), _source(engine, OWN, "-2")
    other, other2 = _source(engine, OTHER), _source(engine, OTHER, "-2")
    a = _listing(engine, source, OWN, "A", "Hotel Alpenrose")
    b = _listing(engine, source2, OWN, "B", "Alpenrose Hotel")
    _listing(engine, other, OTHER, "C", "Hotel Alpenrose")
    _listing(engine, other2, OTHER, "D", "Alpenrose Hotel")
    found = find_duplicates(engine, OWN)
    find_duplicates(engine, OTHER)
    assert [(p["listing_a"], p["listing_b"]) for p in found] == [(a, b)]

    listed = client.get(PREFIX + "/staging/duplicates", headers=keys["operator@own"])
    assert listed.status_code == 200
    pairs = listed.json()
    assert pairs["total"] == 1
    pair = pairs["items"][0]
    assert (pair["dmo"], pair["listing_a"], pair["listing_b"]) == (OWN, a, b)
    assert (pair["source_a"], pair["external_id_a"]) == (source, "A")
    assert (pair["source_b"], pair["external_id_b"]) == (source2, "B")
    assert pair["score"] == found[0]["score"] and pair["evidence"] == found[0]["evidence"]
    everything = client.get(PREFIX + "/staging/duplicates", headers=keys["viewer"]).json()
    assert sorted(p["dmo"] for p in everything["items"]) == [OWN, OTHER]
    assert client.get(
        PREFIX + f"/staging/duplicates?dmo={OWN}", headers=keys["viewer@other"]
    ).json() == {"items": [], "total": 0}

    url = PREFIX + f"/staging/duplicates/{pair['id']}/decision"
    assert client.post(url, json={"decision": "same"}, headers=keys["viewer"]).status_code == 403
    hidden = client.post(url, json={"decision": "same"}, headers=keys["admin@other"])
    assert hidden.status_code == 404
    wrong = client.post(url, json={"decision": "maybe"}, headers=keys["operator@own"])
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["name"] == "decision"
    decided = client.post(url, json={"decision": "different"}, headers=keys["operator@own"])
    assert decided.status_code == 200, decided.text
    assert (decided.json()["decision"], decided.json()["candidate"]) == ("different", pair["id"])
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                duplicate_decisions.c.dmo,
                duplicate_decisions.c.external_id_a,
                duplicate_decisions.c.external_id_b,
                duplicate_decisions.c.decision,
            )
        ).all()
    assert [tuple(r) for r in rows] == [(OWN, "A", "B", "different")]
    assert find_duplicates(engine, OWN) == []


def test_export_streams_one_dmo_and_anonymizes_by_value(make_app: Any) -> None:
    from pipeline_core.promotion import promote

    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    keys = _keys(engine)
    mine, theirs = _source(engine, OWN), _source(engine, OTHER)
    _listing(engine, mine, OWN, "A", "Alpine Hut")
    _listing(engine, mine, OWN, "B", "Lake Inn")
    _listing(engine, theirs, OTHER, "C", "Other Place")
    promote(engine, OWN)
    promote(engine, OTHER)

    unnamed = client.get(PREFIX + "/production/export", headers=keys["viewer"])
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["name"] == "dmo"
    foreign = client.get(PREFIX + f"/production/export?dmo={OWN}", headers=keys["viewer@other"])
    assert foreign.status_code == 403

    plain = client.get(PREFIX + "/production/export", headers=keys["operator@own"])
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in plain.text.splitlines()]
    assert [(x["dmo"], x["external_id"]) for x in lines] == [(OWN, "A"), (OWN, "B")]
    assert PHONE in plain.text and HOST in plain.text

    masked = client.get(
        PREFIX + f"/production/export?dmo={OWN}&anonymize=true", headers=keys["viewer"]
    )
    assert masked.status_code == 200
    assert PHONE not in masked.text and HOST not in masked.text
    records = [orjson.loads(line)["record"] for line in masked.text.splitlines()]
    assert [r["contact"] for r in records] == [
        {"phone": "[masked]", "email": "info@example.org"}
    ] * 2
    assert records[0]["description"] == {"en": "Alpine Hut, run by [masked]. Call [masked]."}

    table = client.get(
        PREFIX + "/production/export?format=csv&anonymize=true", headers=keys["admin@own"]
    )
    assert table.status_code == 200
    assert table.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["external_id"], r["name"], r["phone"]) for r in rows] == [
        ("A", "Alpine Hut", "[masked]"),
        ("B", "Lake Inn", "[masked]"),
    ]
    assert PHONE not in table.text and HOST not in table.text


@pytest.mark.postgres
def test_scoped_keys_read_through_row_level_security(make_app: Any, db_url: str) -> None:
    app = make_app()
    state = app.state.api
    engine = state.engine
    if engine.dialect.name != "postgresql":
        assert state.data_engine(OWN) is engine
        return
    mine, theirs = _source(engine, OWN), _source(engine, OTHER)
    _listing(engine, mine, OWN, "A", "Alpine Hut")
    _listing(engine, theirs, OTHER, "C", "Other Place")
    tenant = state.data_engine(OWN)
    assert tenant is not engine and state.data_engine(OWN) is tenant
    assert state.data_engine(None) is engine
    with tenant.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "pipeline_dmo"
        seen = conn.execute(sa.text("SELECT dmo, external_id FROM staging.listings")).all()
    assert [tuple(r) for r in seen] == [(OWN, "A")]
