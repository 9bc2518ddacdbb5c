"""The audit trail: every change a person or key makes is a ``pipeline.audit`` row (who,
what, when, from where; credentials left out), listed by ``GET /audit`` for admins and by
``dmo-pipeline audit``; rows are never updated or deleted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from api_kit import (
    PREFIX,
    SECRET_KEY,
    app_maker,
    bearer,
    http_client,
    mapping_doc,
    new_dead_job,
)
from conftest import run_cli

from pipeline_core.db.tables import audit, staging
from pipeline_core.operations.keys import create_key
from pipeline_core.promotion import promote

OWN, OTHER = "dmo-a", "dmo-b"
SECRET = "s3cret-token-value-42"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(audit).order_by(audit.c.id)).mappings()]


def _key(engine: sa.Engine, role: str, dmo: str | None = None, name: str = "") -> tuple[int, Any]:
    key, secret = create_key(engine, role=role, dmo=dmo, name=name)
    return key.id, bearer(secret)


def test_config_changes_are_audited_with_before_and_after_but_no_credential(
    make_app: Any,
) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin_id, admin = _key(engine, "admin", name="ops-laptop")
    doc = mapping_doc("lake-events", OWN)
    assert client.post(PREFIX + "/configs", json=doc, headers=admin).status_code == 201
    credential = {"name": "token", "value": SECRET}
    answer = client.put(PREFIX + "/configs/lake-events/credentials", json=credential, headers=admin)
    assert answer.status_code == 200, answer.text
    changed = doc | {"url": "http://127.0.0.1:9/v2.json"}
    assert (
        client.put(PREFIX + "/configs/lake-events", json=changed, headers=admin).status_code == 200
    )
    assert client.delete(PREFIX + "/configs/lake-events", headers=admin).status_code == 200

    rows = _rows(engine)
    assert [(r["action"], r["target"], r["dmo"]) for r in rows] == [
        ("config.created", "lake-events", OWN),
        ("config.credential_set", "lake-events", OWN),
        ("config.changed", "lake-events", OWN),
        ("config.deleted", "lake-events", OWN),
    ]
    for row in rows:
        assert (row["key_id"], row["actor"], row["address"]) == (
            admin_id,
            "ops-laptop",
            "testclient",
        )
        assert isinstance(row["at"], datetime)
    created, credential_row, change, deleted = rows
    assert created["before"] is None
    assert created["after"]["url"] == "http://127.0.0.1:9/feed.json"
    assert created["after"]["fields"] == doc["fields"]
    assert credential_row["after"] == {"credential": "token"}
    assert change["before"]["url"] == "http://127.0.0.1:9/feed.json"
    assert change["after"]["url"] == "http://127.0.0.1:9/v2.json"
    assert deleted["before"]["url"] == "http://127.0.0.1:9/v2.json"
    assert deleted["after"] is None
    assert SECRET not in repr(rows)


def test_key_changes_are_audited_over_http_and_on_the_command_line(
    make_app: Any, pipeline_env: dict[str, str]
) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin_id, admin = _key(engine, "admin", name="root-key")
    made = client.post(PREFIX + "/keys", json={"role": "viewer", "dmo": OWN}, headers=admin)
    assert made.status_code == 201
    new_id = made.json()["id"]
    assert client.delete(PREFIX + f"/keys/{new_id}", headers=admin).status_code == 200
    created = run_cli("keys", "create", "--role", "operator", "--name", "cron", env=pipeline_env)
    assert created.returncode == 0, created.stderr
    cli_id = int(created.stdout.split()[1])
    revoked = run_cli("keys", "revoke", str(cli_id), env=pipeline_env)
    assert revoked.returncode == 0, revoked.stderr

    rows = _rows(engine)
    assert [(r["action"], r["target"], r["key_id"], r["actor"]) for r in rows] == [
        ("key.created", str(new_id), admin_id, "root-key"),
        ("key.revoked", str(new_id), admin_id, "root-key"),
        ("key.created", str(cli_id), None, rows[2]["actor"]),
        ("key.revoked", str(cli_id), None, rows[2]["actor"]),
    ]
    assert rows[2]["actor"].startswith("cli:") and rows[2]["address"]
    assert rows[0]["dmo"] == OWN and rows[0]["after"]["role"] == "viewer"
    assert rows[1]["after"]["revoked_at"] is not None
    assert rows[2]["after"]["name"] == "cron"
    for row in rows:
        assert "key_hash" not in row["after"] and "key" not in row["after"]


def test_queueing_retrying_and_processing_by_hand_are_audited(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    operator_id, operator = _key(engine, "operator", dmo=OWN, name="night-shift")
    dead = new_dead_job(engine, OWN)
    queued = client.post(PREFIX + "/queue", json={"type": "noop"}, headers=operator)
    assert queued.status_code == 201, queued.text
    retried = client.post(PREFIX + f"/queue/{dead}/retry", headers=operator)
    assert retried.status_code == 200, retried.text
    processed = client.post(PREFIX + "/queue/process", json={"batch_size": 5}, headers=operator)
    assert processed.status_code == 200

    rows = _rows(engine)
    assert [(r["action"], r["target"], r["dmo"], r["key_id"]) for r in rows] == [
        ("job.queued", str(queued.json()["id"]), OWN, operator_id),
        ("job.retried", str(dead), OWN, operator_id),
        ("queue.processed", None, OWN, operator_id),
    ]
    assert rows[0]["after"]["type"] == "noop"
    assert rows[1]["after"]["status"] == "queued"
    assert rows[2]["after"]["counts"] == processed.json()["counts"]
    assert sorted(j["id"] for j in rows[2]["after"]["jobs"]) == sorted([queued.json()["id"], dead])


def test_uploads_promotions_and_rollbacks_are_audited(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin_id, admin = _key(engine, "admin", name="editor")
    upload_source = {
        "source": "lake-uploads",
        "dmo": OWN,
        "fetcher": "upload",
        "options": {"format": "csv"},
        "id": "ID",
        "fields": {"name": "Name", "category": {"const": "attraction"}},
    }
    assert client.post(PREFIX + "/configs", json=upload_source, headers=admin).status_code == 201
    uploaded = client.post(
        PREFIX + "/files?source=lake-uploads&filename=a.csv",
        content=b"ID,Name\n1,Old Mill\n",
        headers=admin,
    )
    assert uploaded.status_code == 201, uploaded.text
    queued = client.post(PREFIX + "/staging/promote", json={"dmo": OWN}, headers=admin)
    assert queued.status_code == 202, queued.text
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(staging["listings"]).values(
                source="lake-uploads",
                external_id="X1",
                dmo=OWN,
                category="attraction",
                record_hash="1" * 64,
                record={"name": {"en": "Old Mill"}, "category": "attraction"},
                created_at=now,
                updated_at=now,
            )
        )
    batch = promote(engine, OWN, promoted_by="test").batch_id
    rolled = client.post(PREFIX + f"/staging/promotions/{batch}/rollback", headers=admin)
    assert rolled.status_code == 200, rolled.text

    rows = _rows(engine)[1:]  # after the config row
    assert [(r["action"], r["target"], r["dmo"], r["key_id"]) for r in rows] == [
        ("file.uploaded", str(uploaded.json()["file"]["id"]), OWN, admin_id),
        ("promotion.queued", str(queued.json()["id"]), OWN, admin_id),
        ("promotion.rolled_back", str(batch), OWN, admin_id),
    ]
    assert rows[0]["after"]["job_id"] == uploaded.json()["job_id"]
    assert rows[1]["after"] == {"dmo": OWN}
    assert rows[2]["after"]["batch"] == rolled.json()["batch"]


def test_audit_rows_are_never_updated_or_deleted(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    _, admin = _key(engine, "admin")
    client.post(PREFIX + "/keys", json={"role": "viewer"}, headers=admin)
    (row,) = _rows(engine)
    for statement in (
        sa.update(audit).values(actor="someone else"),
        sa.delete(audit),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="never updated or deleted"):
            with engine.begin() as conn:
                conn.execute(statement)
    assert _rows(engine) == [row]


def test_the_audit_route_is_for_admins_and_pages_by_keyset(
    make_app: Any, pipeline_env: dict[str, str]
) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin_id, admin = _key(engine, "admin", name="boss")
    _, own_admin = _key(engine, "admin", dmo=OWN)
    _, operator = _key(engine, "operator")
    for dmo in (OWN, OTHER, OWN):
        client.post(PREFIX + "/keys", json={"role": "viewer", "dmo": dmo}, headers=admin)
    client.post(PREFIX + "/configs", json=mapping_doc("own-cfg", OWN), headers=admin)

    assert client.get(PREFIX + "/audit", headers=operator).status_code == 403
    first = client.get(PREFIX + "/audit?limit=3", headers=admin).json()
    assert [r["action"] for r in first["items"]] == ["config.created", "key.created", "key.created"]
    assert first["next"] == first["items"][-1]["id"]
    second = client.get(PREFIX + f"/audit?limit=3&after={first['next']}", headers=admin).json()
    assert [r["action"] for r in second["items"]] == ["key.created"]
    assert second["next"] is None
    keys_only = client.get(PREFIX + "/audit?action=key", headers=admin).json()["items"]
    assert [r["dmo"] for r in keys_only] == [OWN, OTHER, OWN]
    assert {r["key_id"] for r in keys_only} == {admin_id}
    scoped = client.get(PREFIX + "/audit", headers=own_admin).json()["items"]
    assert [(r["action"], r["dmo"]) for r in scoped] == [
        ("config.created", OWN),
        ("key.created", OWN),
        ("key.created", OWN),
    ]
    refused = client.get(PREFIX + f"/audit?dmo={OTHER}", headers=own_admin)
    assert refused.status_code == 403

    listed = run_cli("audit", "--action", "config", env=pipeline_env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[3:8] == ["key", str(admin_id), "boss", "testclient", "config.created"]
    assert lines[1].endswith("own-cfg (dmo dmo-a)")
    as_json = run_cli("audit", "--json", "--limit", "2", env=pipeline_env)
    parsed = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert [p["action"] for p in parsed] == ["config.created", "key.created"]
    assert parsed[0]["after"]["source"] == "own-cfg"


def test_command_line_changes_are_audited_as_the_user(
    engine: sa.Engine, pipeline_env: dict[str, str]
) -> None:
    dead = new_dead_job(engine, OWN)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(staging["listings"]).values(
                source="cli-src",
                external_id="X1",
                dmo=OWN,
                category="attraction",
                record_hash="2" * 64,
                record={"name": {"en": "Old Mill"}, "category": "attraction"},
                created_at=now,
                updated_at=now,
            )
        )
    for args in (
        ("queue", "add", "noop", "--dmo", OWN),
        ("queue", "retry", str(dead)),
        ("queue", "process", "--batch-size", "5"),
        ("promote", "--dmo", OWN),
        ("promote", "--rollback", "1"),
    ):
        done = run_cli(*args, env=pipeline_env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    rows = _rows(engine)
    assert [(r["action"], r["target"], r["dmo"], r["key_id"]) for r in rows] == [
        ("job.queued", str(dead + 1), OWN, None),
        ("job.retried", str(dead), OWN, None),
        ("queue.processed", None, None, None),
        ("promotion.run", "1", OWN, None),
        ("promotion.rolled_back", "1", OWN, None),
    ]
    assert len({(r["actor"], r["address"]) for r in rows}) == 1
    assert rows[0]["actor"].startswith("cli:") and rows[0]["address"]
    assert rows[0]["after"] == {"type": "noop", "payload": {}, "priority": 0}
    assert rows[2]["after"]["completed"] == 2
    assert rows[3]["after"]["counts"]["inserted"] == 1
    assert rows[4]["after"]["status"] == "completed"


def test_credential_rotation_and_image_commands_are_audited(
    engine: sa.Engine, pipeline_env: dict[str, str]
) -> None:
    """``configs rotate-credentials``, ``images SOURCE`` (a queued job) and ``images
    --delete-unused`` are changes too: each leaves its row, as the user."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        listing_id = conn.execute(
            sa.insert(staging["listings"])
            .values(
                source="pics-src",
                external_id="P1",
                dmo=OWN,
                category="attraction",
                record_hash="3" * 64,
                record={"name": {"en": "Old Mill"}, "category": "attraction"},
                created_at=now,
                updated_at=now,
            )
            .returning(staging["listings"].c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(staging["listing_images"]).values(
                listing_id=listing_id, position=0, url="http://127.0.0.1:9/mill.jpg"
            )
        )
    env = dict(pipeline_env, PIPELINE_SECRET_KEY=SECRET_KEY, PIPELINE_DISABLE_PLUGINS="")
    for args in (
        ("configs", "rotate-credentials"),
        ("images", "pics-src"),
        ("images", "--delete-unused", "--grace", "0"),
    ):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    rows = _rows(engine)
    assert [(r["action"], r["after"]) for r in rows] == [
        ("config.credentials_rotated", {"count": 0}),
        ("job.queued", {"type": "image", "payload": {"source": "pics-src", "refresh": True}}),
        ("images.deleted_unused", {"objects": 0, "bytes": 0, "url_rows": 0}),
    ]
    assert rows[1]["target"] is not None and int(rows[1]["target"]) > 0
    assert all(r["actor"].startswith("cli:") for r in rows)
