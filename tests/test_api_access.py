"""Every route x no key, each role, a key of the route's DMO and a key of another DMO.

Each answer is checked for its status and problem body, and no answer to a DMO-scoped key
holds a name or id of the other DMO's rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_kit import (
    PREFIX,
    app_maker,
    bearer,
    http_client,
    make_keys,
    mapping_doc,
    new_dead_job,
    seed_dmo,
)

from pipeline_core.api.app import all_endpoints
from pipeline_core.db.tables import configs
from pipeline_core.mapping import MappingDocument
from pipeline_core.operations.keys import ROLES, create_key

OWN, OTHER = "dmo-a", "dmo-b"
LABELS = [
    None,
    "viewer",
    "operator",
    "admin",
    "viewer@own",
    "operator@own",
    "admin@own",
    "admin@other",
]
_names = itertools.count(1)


@dataclass
class Case:
    method: str
    path: str  # the endpoint's path under the prefix
    role: str | None
    ok: int
    #: What a key of the other DMO gets: a status, or "list" (200 without the DMO's rows).
    other: int | str
    url: Callable[[Any], str]
    body: Callable[[Any], Any] | None = None
    #: Only these labels get a call (a route whose success is slow: preview).
    only: tuple[str | None, ...] | None = None


def _fresh_config(ctx: Any) -> str:
    name = f"cfg-new-{next(_names)}"
    row = MappingDocument(mapping_doc(name, OWN), "t").to_config_row()
    with ctx.engine.begin() as conn:
        conn.execute(sa.insert(configs).values(**row))
    return name


def _fresh_batch(ctx: Any) -> int:
    """A completed promotion of the own DMO that changed nothing (so it can be rolled back)."""
    from pipeline_core.promotion import promote

    batch = promote(ctx.engine, OWN, ids=[])
    assert batch.batch_id is not None
    return batch.batch_id


def _seed_promotion_and_pair(engine: sa.Engine, seeded: Any) -> tuple[int, int]:
    """Promote the DMO's staging listing (a batch and a production row) and store a
    duplicate candidate pair of its listing; the batch id and the pair id."""
    from datetime import UTC, datetime

    from pipeline_core.db.tables import duplicate_candidates
    from pipeline_core.promotion import promote

    batch = promote(engine, seeded.dmo)
    assert batch.counts["inserted"] == 1, batch.counts
    with engine.begin() as conn:
        pair = conn.execute(
            sa.insert(duplicate_candidates)
            .values(
                dmo=seeded.dmo,
                listing_a=seeded.listing_id,
                listing_b=seeded.listing_id,
                score=0.93,
                evidence={"name": 0.9, "source": seeded.source},
                found_at=datetime.now(UTC),
            )
            .returning(duplicate_candidates.c.id)
        ).scalar_one()
    assert batch.batch_id is not None
    return batch.batch_id, int(pair)


def _fresh_key(ctx: Any) -> int:
    return create_key(ctx.engine, role="viewer")[0].id


CASES = [
    Case("GET", "/queue", "viewer", 200, "list", lambda c: "/queue"),
    Case(
        "POST",
        "/queue",
        "operator",
        201,
        403,
        lambda c: "/queue",
        lambda c: {"type": "noop", "dmo": OWN},
    ),
    Case(
        "POST",
        "/queue/process",
        "operator",
        200,
        "list",
        lambda c: "/queue/process",
        lambda c: {"budget_seconds": 5},
    ),
    Case(
        "POST",
        "/queue/{id}/retry",
        "operator",
        200,
        404,
        lambda c: f"/queue/{new_dead_job(c.engine, OWN)}/retry",
    ),
    Case("GET", "/queue/dead", "viewer", 200, "list", lambda c: "/queue/dead"),
    Case("GET", "/jobs", "viewer", 200, "list", lambda c: "/jobs"),
    Case("GET", "/jobs/{id}", "viewer", 200, 404, lambda c: f"/jobs/{c.own.job_id}"),
    Case("GET", "/files", "viewer", 200, "list", lambda c: "/files"),
    Case("GET", "/files/{id}", "viewer", 200, 404, lambda c: f"/files/{c.own.file_id}"),
    Case(
        "POST",
        "/files",
        "operator",
        201,
        422,
        lambda c: f"/files?source=upl-{OWN}&filename=f.csv",
        lambda c: b"ID,Name\nA1,Mill\n",
    ),
    Case(
        "GET",
        "/files/{id}/content",
        "viewer",
        200,
        404,
        lambda c: f"/files/{c.own.file_id}/content",
    ),
    Case("GET", "/staging/listings", "viewer", 200, "list", lambda c: "/staging/listings"),
    Case(
        "GET",
        "/staging/listings/{id}",
        "viewer",
        200,
        404,
        lambda c: f"/staging/listings/{c.own.listing_id}",
    ),
    Case(
        "POST",
        "/staging/promote",
        "admin",
        202,
        403,
        lambda c: "/staging/promote",
        lambda c: {"dmo": OWN},
    ),
    Case("GET", "/staging/promotions", "viewer", 200, "list", lambda c: "/staging/promotions"),
    Case(
        "GET",
        "/staging/promotions/{id}",
        "viewer",
        200,
        404,
        lambda c: f"/staging/promotions/{c.batch}",
    ),
    Case(
        "POST",
        "/staging/promotions/{id}/rollback",
        "admin",
        200,
        404,
        lambda c: f"/staging/promotions/{_fresh_batch(c)}/rollback",
    ),
    Case("GET", "/staging/duplicates", "viewer", 200, "list", lambda c: "/staging/duplicates"),
    Case(
        "POST",
        "/staging/duplicates/{id}/decision",
        "operator",
        200,
        404,
        lambda c: f"/staging/duplicates/{c.pair}/decision",
        lambda c: {"decision": "different"},
    ),
    Case(
        "GET",
        "/production/export",
        "viewer",
        200,
        403,
        lambda c: f"/production/export?dmo={OWN}&format=csv",
    ),
    Case("GET", "/sources", "viewer", 200, "list", lambda c: "/sources"),
    Case("GET", "/errors", "viewer", 200, "list", lambda c: "/errors"),
    Case("GET", "/configs", "viewer", 200, "list", lambda c: "/configs"),
    Case(
        "POST",
        "/configs",
        "admin",
        201,
        403,
        lambda c: "/configs",
        lambda c: mapping_doc(f"cfg-post-{next(_names)}", OWN),
    ),
    Case("GET", "/configs/{name}", "viewer", 200, 404, lambda c: f"/configs/{c.own.config}"),
    Case(
        "PUT",
        "/configs/{name}",
        "admin",
        200,
        404,
        lambda c: f"/configs/{c.own.config}",
        lambda c: mapping_doc(c.own.config, OWN),
    ),
    Case("DELETE", "/configs/{name}", "admin", 200, 404, lambda c: f"/configs/{_fresh_config(c)}"),
    Case(
        "PUT",
        "/configs/{name}/credentials",
        "admin",
        200,
        404,
        lambda c: f"/configs/{c.own.config}/credentials",
        lambda c: {"name": "token", "value": "s3cret-value-123"},
    ),
    Case(
        "POST",
        "/configs/{name}/preview",
        "operator",
        200,
        404,
        lambda c: f"/configs/{c.own.config}/preview",
        lambda c: {"limit": 1},
        only=(None, "viewer", "operator@own", "admin@other"),
    ),
    Case(
        "POST",
        "/configs/draft",
        "admin",
        200,
        403,
        lambda c: "/configs/draft",
        lambda c: {"source": "drafted", "url": "http://127.0.0.1:9/a.json", "dmo": OWN},
        # A draft fetches its URL; the one that succeeds is tests/test_drafting.py's.
        only=(None, "viewer", "operator@own", "admin@other"),
    ),
    Case("GET", "/keys", "admin", 200, 403, lambda c: "/keys"),
    Case("POST", "/keys", "admin", 201, 403, lambda c: "/keys", lambda c: {"role": "viewer"}),
    Case("DELETE", "/keys/{id}", "admin", 200, 403, lambda c: f"/keys/{_fresh_key(c)}"),
    Case("GET", "/health", None, 200, 200, lambda c: "/health"),
    Case("GET", "/audit", "admin", 200, "list", lambda c: "/audit"),
    Case("GET", "/metrics", "viewer", 200, 403, lambda c: "/metrics"),
]
#: Routes for keys not scoped to a DMO only (a scoped key gets 403).
UNSCOPED = ("/keys", "/metrics")


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def test_every_route_is_in_the_matrix() -> None:
    declared = {(e.method, e.path) for e in all_endpoints()}
    covered = {(case.method, case.path) for case in CASES}
    assert declared == covered


def _expected(case: Case, label: str | None) -> int | str:
    if case.role is None:
        return case.ok
    if label is None:
        return 401
    role, _, scope = label.partition("@")
    if ROLES.index(role) < ROLES.index(case.role):
        return 403
    if scope and case.path.startswith(UNSCOPED):
        return 403
    if scope == "other":
        return case.other
    return case.ok


@dataclass
class Ctx:
    engine: sa.Engine
    own: Any
    other: Any
    batch: int = 0
    pair: int = 0


def test_route_role_scope_matrix(make_app: Any) -> None:
    app = make_app()
    settings = app.state.api.settings
    engine = app.state.api.engine
    # The preview crawls the config's URL: a closed port on loopback, refused at once.
    own = seed_dmo(engine, settings, OWN)
    other = seed_dmo(engine, settings, OTHER)
    with engine.begin() as conn:
        for name in (own.config, other.config):
            conn.execute(
                sa.update(configs)
                .where(configs.c.name == name)
                .values(base_url="http://127.0.0.1:9/a.json")
            )
    keys = make_keys(engine, OWN, OTHER)
    ctx = Ctx(engine, own, other)
    ctx.batch, ctx.pair = _seed_promotion_and_pair(engine, own)
    _seed_promotion_and_pair(engine, other)
    client = http_client(app)
    other_marks = [OTHER, other.source, other.config, f"upl-{OTHER}"]
    own_marks = [OWN, own.source, own.config, f"upl-{OWN}"]
    checked = 0
    for case in CASES:
        for label in LABELS:
            if case.only is not None and label not in case.only:
                continue
            want = _expected(case, label)
            url = case.path if case.path in ("/health", "/metrics") else PREFIX + case.url(ctx)
            body = case.body(ctx) if case.body else None
            headers = bearer(keys[label] if label else None)
            if isinstance(body, bytes):
                answer = client.request(case.method, url, content=body, headers=headers)
            else:
                answer = client.request(case.method, url, json=body, headers=headers)
            where = f"{case.method} {url} as {label}"
            if want == "list":
                assert answer.status_code == case.ok, (where, answer.text)
            else:
                assert answer.status_code == want, (where, answer.text)
            if answer.status_code >= 400:
                problem = answer.json()
                assert answer.headers["content-type"] == "application/problem+json", where
                assert problem["status"] == answer.status_code, where
                assert set(problem) >= {"type", "title", "status", "detail"}, where
            # (a name the client put in the URL may come back in a 404's detail)
            if label and label.endswith("@own"):
                leaks = [m for m in other_marks if m in answer.text and m not in url]
                assert not leaks, (where, answer.text)
            if label == "admin@other":
                leaks = [m for m in own_marks if m in answer.text and m not in url]
                assert not leaks, (where, answer.text)
            checked += 1
    assert checked == sum(
        len(case.only) if case.only is not None else len(LABELS) for case in CASES
    )


@pytest.mark.parametrize("header", ["", "Bearer ", "Basic abc", "Bearer dmo_wrong"])
def test_missing_or_wrong_key_is_401_and_logged_without_the_key(
    header: str, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    client = http_client(app)
    with caplog.at_level("WARNING", logger="pipeline_core.api.auth"):
        answer = client.get(PREFIX + "/queue", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.json()["detail"] in (
        "this route needs a key: Authorization: Bearer KEY",
        "the key is unknown, revoked or expired",
    )
    assert answer.headers["www-authenticate"] == 'Bearer realm="dmo-pipeline"'
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "401 GET /api/v1/pipeline/queue from testclient"
    ]
    assert "dmo_wrong" not in caplog.text


def test_revoked_and_expired_keys_are_401(make_app: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from pipeline_core.db.tables import api_keys
    from pipeline_core.operations.keys import revoke_key

    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    revoked, revoked_secret = create_key(engine, role="admin")
    expired, expired_secret = create_key(engine, role="admin", expires_days=1)
    assert client.get(PREFIX + "/queue", headers=bearer(revoked_secret)).status_code == 200
    revoke_key(engine, revoked.id)
    with engine.begin() as conn:
        conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.id == expired.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    for secret in (revoked_secret, expired_secret):
        answer = client.get(PREFIX + "/queue", headers=bearer(secret))
        assert answer.status_code == 401
    with engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys.c.key_hash)).scalars().all()
    assert revoked_secret not in stored and len(stored[0]) == 64


def test_rate_limit_per_key(make_app: Any) -> None:
    app = make_app(PIPELINE_API_RATE_LIMIT="3/minute")
    engine = app.state.api.engine
    client = http_client(app)
    first = create_key(engine, role="viewer")[1]
    second = create_key(engine, role="viewer")[1]
    codes = [client.get(PREFIX + "/queue", headers=bearer(first)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get(PREFIX + "/queue", headers=bearer(first))
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["detail"].endswith("requests in 60 s (PIPELINE_API_RATE_LIMIT)")
    assert client.get(PREFIX + "/queue", headers=bearer(second)).status_code == 200
