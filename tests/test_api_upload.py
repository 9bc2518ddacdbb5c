"""The upload chain over HTTP: upload a CSV for an upload source, process until idle, and the
staged listings are exactly the file's; a file that is not what its name says is a 4xx with
nothing stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_kit import PREFIX, app_maker, bearer, http_client

from pipeline_core.db.tables import files, queue
from pipeline_core.operations.keys import create_key

CSV = b"ID;Name;Town\nA1;Old Mill;Lakeside\nA2;Harbour Museum;Lakeside\nA3;Castle Ruin;Hillview\n"

UPLOAD_SOURCE = {
    "source": "lakeside-uploads",
    "dmo": "dmo-a",
    "fetcher": "upload",
    "options": {"format": "csv", "delimiter": ";"},
    "id": "ID",
    "defaults": {"language": "en", "country": "IE"},
    "fields": {
        "name": "Name",
        "category": {"const": "attraction"},
        "location.locality": "Town",
    },
}


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _setup(make_app: Any) -> tuple[Any, Any, dict[str, str]]:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin = bearer(create_key(engine, role="admin")[1])
    answer = client.post(PREFIX + "/configs", json=UPLOAD_SOURCE, headers=admin)
    assert answer.status_code == 201, answer.text
    return app, client, bearer(create_key(engine, role="operator", dmo="dmo-a")[1])


def _process_until_idle(client: Any, key: dict[str, str]) -> list[tuple[str, str]]:
    ran: list[tuple[str, str]] = []
    for _ in range(6):
        answer = client.post(PREFIX + "/queue/process", json={"budget_seconds": 30}, headers=key)
        assert answer.status_code == 200, answer.text
        ran += [(job["type"], job["status"]) for job in answer.json()["jobs"]]
        if not answer.json()["jobs"]:
            break
    return ran


def test_upload_chain_stages_exactly_the_files_listings(make_app: Any) -> None:
    _, client, operator = _setup(make_app)
    answer = client.post(
        PREFIX + "/files?source=lakeside-uploads&filename=attractions.csv",
        content=CSV,
        headers=operator,
    )
    assert answer.status_code == 201, answer.text
    stored = answer.json()["file"]
    assert (stored["kind"], stored["size"], stored["content_type"]) == (
        "upload",
        len(CSV),
        "text/csv",
    )
    import hashlib

    assert stored["sha256"] == hashlib.sha256(CSV).hexdigest()
    content = client.get(PREFIX + f"/files/{stored['id']}/content", headers=operator)
    assert content.content == CSV
    assert _process_until_idle(client, operator) == [
        ("read_upload", "completed"),
        ("transform", "completed"),
        ("ingest", "completed"),
    ]
    listed = client.get(PREFIX + "/staging/listings?source=lakeside-uploads", headers=operator)
    items = listed.json()["items"]
    assert [(i["external_id"], i["record"]["name"]["en"]) for i in items] == [
        ("A1", "Old Mill"),
        ("A2", "Harbour Museum"),
        ("A3", "Castle Ruin"),
    ]
    assert {i["dmo"] for i in items} == {"dmo-a"}


@pytest.mark.parametrize(
    ("filename", "body", "detail"),
    [
        ("feed.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not csv: its bytes are binary"),
        ("feed.csv", b'[{"ID": "A1"}]', "is not csv: its bytes are json"),
        ("feed.csv", b"<rows><row/></rows>", "is not csv: its bytes are xml"),
        ("feed.json", CSV, "is named as .json but the source takes csv (.csv, .tsv, .txt)"),
    ],
)
def test_an_upload_that_is_not_what_it_says_stores_nothing(
    make_app: Any, filename: str, body: bytes, detail: str, tmp_path: Path
) -> None:
    app, client, operator = _setup(make_app)
    answer = client.post(
        PREFIX + f"/files?source=lakeside-uploads&filename={filename}",
        content=body,
        headers=operator,
    )
    assert answer.status_code == 415
    assert answer.json()["detail"].startswith("upload for source lakeside-uploads: ")
    assert answer.json()["detail"].endswith(detail)
    engine = app.state.api.engine
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(queue)).scalar() == 0
    stored = tmp_path / "files"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_upload_size_limit_and_source_checks(make_app: Any) -> None:
    app = make_app(PIPELINE_API_MAX_UPLOAD="50")
    engine = app.state.api.engine
    client = http_client(app)
    admin = bearer(create_key(engine, role="admin")[1])
    assert client.post(PREFIX + "/configs", json=UPLOAD_SOURCE, headers=admin).status_code == 201
    big = client.post(PREFIX + "/files?source=lakeside-uploads", content=CSV, headers=admin)
    assert big.status_code == 413
    assert (
        big.json()["detail"] == f"upload of {len(CSV)} bytes is over PIPELINE_API_MAX_UPLOAD (50)"
    )
    missing = client.post(PREFIX + "/files", content=b"x", headers=admin)
    assert (missing.status_code, missing.json()["detail"]) == (422, "query source: required")
    other = bearer(create_key(engine, role="operator", dmo="dmo-b")[1])
    hidden = client.post(
        PREFIX + "/files?source=lakeside-uploads", content=b"ID\n1\n", headers=other
    )
    assert (hidden.status_code, hidden.json()["detail"]) == (
        422,
        "query source: no source named 'lakeside-uploads'",
    )
