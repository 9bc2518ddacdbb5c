"""The OpenAPI document against the app's routes, and the routes' own behaviour: problem
details, limits, keyset pages, processing, retry, stored configurations, the keys CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_kit import PREFIX, app_maker, bearer, http_client, mapping_doc
from conftest import ROOT, run_cli
from starlette.routing import Route

from pipeline_core.api.app import all_endpoints
from pipeline_core.db.tables import queue, staging
from pipeline_core.operations.keys import create_key


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _admin(app: Any) -> dict[str, str]:
    return bearer(create_key(app.state.api.engine, role="admin")[1])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_openapi_document_has_exactly_the_routes(make_app: Any) -> None:
    app = make_app()
    document = http_client(app).get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    routes = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    routes -= {("GET", "/api/v1/openapi.json"), ("GET", "/docs")}
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert documented == routes
    for endpoint in all_endpoints():
        operation = document["paths"][endpoint.full_path][endpoint.method.lower()]
        assert str(endpoint.status) in operation["responses"]
        params = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        assert params == {("path", n) for n in endpoint.path_params} | {
            ("query", n) for n in endpoint.query
        }
        if endpoint.role is None:
            assert operation["security"] == []
        else:
            assert operation["x-role"] == endpoint.role
            assert {"401", "403", "429"} <= set(operation["responses"])
        if endpoint.body is not None:
            content = operation["requestBody"]["content"]
            kinds = ["application/json", "application/yaml", "text/yaml"]
            if endpoint.raw:
                kinds = ["application/octet-stream"]
            assert list(content) == (kinds if endpoint.yaml else kinds[:1])
            assert all(media["schema"] == endpoint.body for media in content.values())


def test_every_route_is_in_the_api_reference() -> None:
    text = (ROOT / "docs" / "reference" / "api.md").read_text("utf-8")
    for endpoint in all_endpoints():
        role = endpoint.role or "no key"
        assert f"| `{endpoint.method}` | `{endpoint.full_path}` | {role} |" in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_docs_page_is_vendored(make_app: Any) -> None:
    page = http_client(make_app()).get("/docs")
    assert page.status_code == 200
    assert 'fetch("/api/v1/openapi.json")' in page.text
    assert "<script src" not in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched elsewhere


def test_problem_details_name_the_field(make_app: Any) -> None:
    app = make_app(PIPELINE_API_MAX_BODY="200")
    client = http_client(app)
    admin = _admin(app)
    answers = {
        "type": client.post(PREFIX + "/queue", json={"type": 5}, headers=admin),
        "unknown": client.post(PREFIX + "/queue", json={"type": "nope"}, headers=admin),
        "param": client.get(PREFIX + "/queue?colour=red", headers=admin),
        "notjson": client.post(PREFIX + "/queue", content=b"{", headers=admin),
        "big": client.post(
            PREFIX + "/queue", json={"type": "noop", "dedup_key": "x" * 250}, headers=admin
        ),
        "page": client.get(PREFIX + "/queue?limit=501", headers=admin),
        "route": client.get(PREFIX + "/nowhere", headers=admin),
        "method": client.delete(PREFIX + "/queue", headers=admin),
    }
    got = {name: (a.status_code, a.json()["detail"]) for name, a in answers.items()}
    assert got["type"] == (422, "body type: 5 is not of type 'string'")
    assert answers["type"].json()["errors"] == [
        {"in": "body", "name": "type", "detail": "5 is not of type 'string'"}
    ]
    assert got["unknown"][0] == 422
    assert got["unknown"][1].startswith("body type: no job type 'nope'; registered: ")
    assert got["param"][0] == 422
    assert got["param"][1].startswith("query colour: unknown parameter (accepted: state, type,")
    assert got["notjson"][0] == 422 and got["notjson"][1].startswith("body (body): not JSON: ")
    assert got["big"][0] == 413
    assert got["page"][0] == 422
    assert got["route"] == (404, "no route /api/v1/pipeline/nowhere")
    assert got["method"] == (405, "DELETE is not allowed on /api/v1/pipeline/queue")
    for answer in answers.values():
        assert answer.headers["content-type"] == "application/problem+json"


def test_keyset_pages_of_staged_listings(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    now = datetime.now(UTC)
    listings = staging["listings"]
    with engine.begin() as conn:
        ids = [
            conn.execute(
                sa.insert(listings)
                .values(
                    source="s",
                    external_id=f"E{n:02d}",
                    dmo="d",
                    category="event",
                    record_hash="0" * 64,
                    record={"n": n},
                    created_at=now,
                    updated_at=now,
                )
                .returning(listings.c.id)
            ).scalar_one()
            for n in range(25)
        ]
        conn.execute(
            sa.insert(staging["listing_info"]).values(
                listing_id=ids[3], language="en", name="Jazz 100% Night"
            )
        )
    client = http_client(app)
    viewer = bearer(create_key(engine, role="viewer")[1])
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        url = PREFIX + "/staging/listings?limit=10" + (f"&after={after}" if after else "")
        body = client.get(url, headers=viewer).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert (seen, pages) == (ids, 3)
    found = client.get(PREFIX + "/staging/listings?q=100%25", headers=viewer).json()
    assert [item["id"] for item in found["items"]] == [ids[3]]
    detail = client.get(PREFIX + f"/staging/listings/{ids[3]}", headers=viewer).json()
    assert detail["children"]["listing_info"][0]["name"] == "Jazz 100% Night"
    assert detail["children"]["locations"] == []


def test_process_and_retry(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    operator = bearer(create_key(engine, role="operator")[1])
    added = client.post(
        PREFIX + "/queue", json={"type": "noop", "priority": 3, "dmo": "d"}, headers=operator
    )
    assert added.status_code == 201
    job_id = added.json()["id"]
    again = client.post(
        PREFIX + "/queue", json={"type": "noop", "dedup_key": "k"}, headers=operator
    )
    dup = client.post(PREFIX + "/queue", json={"type": "noop", "dedup_key": "k"}, headers=operator)
    assert (again.status_code, dup.status_code) == (201, 409)
    done = client.post(
        PREFIX + "/queue/process", json={"budget_seconds": 5, "batch_size": 5}, headers=operator
    ).json()
    assert [(j["id"], j["status"]) for j in done["jobs"]] == [
        (job_id, "completed"),
        (again.json()["id"], "completed"),
    ]
    assert done["counts"]["completed"] == 2 and done["idle"] is True
    detail = client.get(PREFIX + f"/jobs/{job_id}", headers=operator).json()
    assert [a["status"] for a in detail["attempts"]] == ["completed"]
    refused = client.post(PREFIX + f"/queue/{job_id}/retry", headers=operator)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"job {job_id} is completed, not failed: only failed jobs can be retried"
    )
    with engine.begin() as conn:
        conn.execute(
            sa.update(queue).where(queue.c.id == job_id).values(status="failed", dead_lettered=True)
        )
    dead = client.get(PREFIX + "/queue/dead", headers=operator).json()
    assert [j["id"] for j in dead["items"]] == [job_id]
    retried = client.post(PREFIX + f"/queue/{job_id}/retry", headers=operator)
    assert (retried.status_code, retried.json()["status"]) == (200, "queued")
    too_long = client.post(PREFIX + "/queue/process", json={"budget_seconds": 61}, headers=operator)
    assert too_long.json()["detail"] == (
        "body budget_seconds: 61 is over PIPELINE_API_PROCESS_TIMEOUT (60)"
    )


def test_stored_configs_are_checked_like_mapping_files(make_app: Any) -> None:
    app = make_app()
    client = http_client(app)
    admin = _admin(app)
    bad = mapping_doc("feed-x", "d") | {"pagination": {"type": "sideways"}}
    answer = client.post(PREFIX + "/configs", json=bad, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        "pipeline.configs[feed-x]:1:196: at pagination.type: "
    )
    assert answer.json()["errors"][0]["name"] == "pagination.type"
    env = mapping_doc("feed-y", "d") | {"headers": {"X-Key": "${PIPELINE_DATABASE_URL}"}}
    refused = client.post(PREFIX + "/configs", json=env, headers=admin)
    assert refused.status_code == 422
    assert "a stored configuration cannot name environment variables" in refused.text
    created = client.post(PREFIX + "/configs", json=mapping_doc("feed-z", "d"), headers=admin)
    assert created.status_code == 201
    assert created.json()["document"]["url"] == "http://127.0.0.1:9/feed.json"
    twice = client.post(PREFIX + "/configs", json=mapping_doc("feed-z", "d"), headers=admin)
    assert (twice.status_code, twice.json()["detail"]) == (
        409,
        "stored configuration 'feed-z' already exists",
    )
    clash = client.post(PREFIX + "/configs", json=mapping_doc("example-city", "d"), headers=admin)
    assert clash.status_code == 409
    names = [s["name"] for s in client.get(PREFIX + "/sources", headers=admin).json()["items"]]
    assert "feed-z" in names
    deleted = client.delete(PREFIX + "/configs/feed-z", headers=admin)
    assert deleted.json() == {"deleted": "feed-z"}
    assert client.get(PREFIX + "/configs/feed-z", headers=admin).status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_keys_cli_creates_lists_and_revokes(pipeline_env: dict[str, str], make_app: Any) -> None:
    created = run_cli(
        "keys",
        "create",
        "--role",
        "operator",
        "--dmo",
        "lakeside",
        "--name",
        "partner",
        env=pipeline_env,
    )
    assert created.returncode == 0, created.stderr
    head, secret = created.stdout.splitlines()
    assert head == "key 1 (operator, DMO lakeside); shown once, keep it now:"
    assert secret.startswith("dmo_") and len(secret) == 47
    listed = run_cli("keys", "list", env=pipeline_env)
    assert secret not in listed.stdout
    assert listed.stdout.splitlines()[1].split()[:4] == ["1", secret[:10], "operator", "lakeside"]
    app = make_app()
    client = http_client(app)
    assert client.get(PREFIX + "/queue", headers=bearer(secret)).status_code == 200
    revoked = run_cli("keys", "revoke", "1", env=pipeline_env)
    assert revoked.stdout == "key 1 (operator) revoked\n"
    assert client.get(PREFIX + "/queue", headers=bearer(secret)).status_code == 401
    missing = run_cli("keys", "revoke", "9", env=pipeline_env)
    assert (missing.returncode, missing.stderr) == (1, "Error: no API key 9\n")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_binds_loopback_and_answers(pipeline_env: dict[str, str]) -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_core.cli", "serve", "--port", str(port)],
        env=pipeline_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = None
        for _ in range(200):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert answer is not None and answer.json() == {"status": "up"}
        listening = [
            line.split()[1]
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if line.split()[3] == "0A" and line.split()[1].endswith(f":{port:04X}")
        ]
        assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1 only
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=15)
    assert out.splitlines()[0] == (
        f"dmo-pipeline API on http://127.0.0.1:{port}/api/v1/pipeline (docs: /docs)"
    )
