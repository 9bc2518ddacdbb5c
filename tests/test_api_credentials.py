"""A stored config whose credential is set over the API crawls a loopback server that checks
the header, through POST /queue and POST /queue/process; the plaintext appears in no table,
log line or answer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from api_kit import PREFIX, app_maker, bearer, http_client

from pipeline_core.db import metadata
from pipeline_core.db.tables import credentials
from pipeline_core.operations.keys import create_key
from pipeline_core.testing.server import LoopbackHTTPServer

TOKEN = "tok-7f3a9c1e5b2d4a68"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


class _Guarded:
    """A feed on loopback that answers 401 unless the request carries the token."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        body = orjson.dumps({"data": records})
        self.seen: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                given = self.headers.get("Authorization")
                outer.seen.append(given)
                ok = given == f"Bearer {TOKEN}"
                self.send_response(200 if ok else 401)
                payload = body if ok else b"{}"
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Guarded:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/feed.json"


def _all_text(engine: sa.Engine) -> str:
    parts = []
    with engine.connect() as conn:
        for table in metadata.tables.values():
            for row in conn.execute(sa.select(table)).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_credential_set_over_the_api_reaches_the_source_only(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin = bearer(create_key(engine, role="admin")[1])
    records = [{"id": f"R{n}", "title": f"Guarded {n}"} for n in range(1, 4)]
    answers = []
    with _Guarded(records) as feed, caplog.at_level("DEBUG"):
        doc = {
            "source": "guarded",
            "dmo": "dmo-a",
            "fetcher": "json_api",
            "url": feed.url(),
            "records": "data",
            "id": "id",
            "headers": {"Authorization": "Bearer ${credential:token}"},
            "fields": {"name": "title", "category": {"const": "attraction"}},
        }
        answers.append(client.post(PREFIX + "/configs", json=doc, headers=admin))
        assert answers[-1].status_code == 201, answers[-1].text
        answers.append(
            client.put(
                PREFIX + "/configs/guarded/credentials",
                json={"name": "token", "value": TOKEN},
                headers=admin,
            )
        )
        assert answers[-1].json() == {"config": "guarded", "credentials": ["token"]}
        answers.append(client.get(PREFIX + "/configs/guarded", headers=admin))
        assert answers[-1].json()["credentials"] == ["token"]
        assert answers[-1].json()["document"]["headers"] == {
            "Authorization": "Bearer ${credential:token}"
        }
        answers.append(
            client.post(
                PREFIX + "/queue",
                json={"type": "scrape", "payload": {"source": "guarded"}},
                headers=admin,
            )
        )
        assert answers[-1].status_code == 201, answers[-1].text
        ran = []
        for _ in range(5):
            answers.append(
                client.post(PREFIX + "/queue/process", json={"budget_seconds": 60}, headers=admin)
            )
            ran += [(job["type"], job["status"]) for job in answers[-1].json()["jobs"]]
            if answers[-1].json()["idle"] and not answers[-1].json()["jobs"]:
                break
        assert ran == [("scrape", "completed"), ("transform", "completed"), ("ingest", "completed")]
        answers.append(client.get(PREFIX + "/staging/listings?source=guarded", headers=admin))
    listed = answers[-1].json()["items"]
    assert sorted(item["external_id"] for item in listed) == ["R1", "R2", "R3"]
    assert feed.seen == [f"Bearer {TOKEN}"]
    assert not any(TOKEN in answer.text for answer in answers)
    assert TOKEN not in caplog.text
    assert TOKEN not in _all_text(engine)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(credentials.c.ciphertext)).scalar_one()
    assert stored.startswith("gAAAAA")  # a Fernet token


def test_a_mapping_file_cannot_name_a_stored_credential(tmp_path: Path) -> None:
    from pipeline_core.exceptions import MappingError
    from pipeline_core.mapping import load_mapping_text
    from pipeline_core.mapping.fetcher_check import check_headers

    text = (
        "source: s\ndmo: d\nfetcher: json_api\nurl: http://127.0.0.1/a\nid: id\n"
        "headers: {Authorization: 'Bearer ${credential:token}'}\nfields: {name: n}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    doc = load_mapping_text(text, str(path), tmp_path)
    with pytest.raises(MappingError) as caught:
        check_headers(doc)
    assert str(caught.value) == (
        f"{path}:6: at headers.Authorization: header Authorization references a stored "
        "credential (${credential:...}); only stored configurations (pipeline.configs) have "
        "credentials"
    )


def test_rotation_reencrypts_under_the_new_key(make_app: Any) -> None:
    from cryptography.fernet import Fernet

    from pipeline_core.credentials import resolve_header, rotate_credentials, set_credential
    from pipeline_core.db.engine import write_transaction

    app = make_app()
    settings = app.state.api.settings
    engine = app.state.api.engine
    with write_transaction(engine) as conn:
        set_credential(conn, settings, "cfg", "token", TOKEN)
    new = Fernet.generate_key().decode()
    rotated = app.state.api.settings.__class__(
        **{**settings.__dict__, "secret_keys": (new, *settings.secret_keys)}
    )
    assert rotate_credentials(engine, rotated) == 1
    only_new = settings.__class__(**{**settings.__dict__, "secret_keys": (new,)})
    value = resolve_header(
        engine, only_new, "pipeline.configs[cfg]", "Authorization", "Bearer ${credential:token}"
    )
    assert value == f"Bearer {TOKEN}"
    with pytest.raises(Exception) as caught:
        resolve_header(
            engine, settings, "pipeline.configs[cfg]", "Authorization", "Bearer ${credential:token}"
        )
    assert "cannot be decrypted with PIPELINE_SECRET_KEY" in str(caught.value)
    assert TOKEN not in str(caught.value)
