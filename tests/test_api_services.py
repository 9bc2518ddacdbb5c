"""The API's routes run the CLI's services: ``POST /queue`` checks a scrape against the app's
own sources (no plugin manager built per request), and ``/jobs``, ``/jobs/{id}``, ``/errors``
and ``/queue`` answer what ``operations.jobs`` and ``operations.history`` find."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_kit import PREFIX, app_maker, bearer, http_client, seed_dmo

import pipeline_core.jobs.checks
import pipeline_core.plugins
from pipeline_core.operations.history import list_errors
from pipeline_core.operations.jobs import JobFilter, job_detail, job_rows
from pipeline_core.operations.keys import create_key


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_scrape_queued_over_http_builds_no_plugin_manager(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    client = http_client(app)
    operator = bearer(create_key(app.state.api.engine, role="operator")[1])
    app.state.api.plugin_manager()  # built once, with the app
    built: list[object] = []
    real = pipeline_core.plugins.get_plugin_manager

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_core.plugins, "get_plugin_manager", counted)
    monkeypatch.setattr(pipeline_core.jobs.checks, "get_plugin_manager", counted)
    queued = client.post(
        PREFIX + "/queue",
        json={"type": "scrape", "payload": {"source": "example-city"}},
        headers=operator,
    )
    assert queued.status_code == 201, queued.text
    refused = client.post(
        PREFIX + "/queue",
        json={"type": "scrape", "payload": {"source": "nowhere"}},
        headers=operator,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["name"] == "payload"
    assert "no source named 'nowhere'" in refused.json()["detail"]
    assert built == []


def test_jobs_errors_and_queue_routes_answer_what_the_services_find(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    mine = seed_dmo(engine, app.state.api.settings, "dmo-a")
    other = seed_dmo(engine, app.state.api.settings, "dmo-b")
    scoped = bearer(create_key(engine, role="viewer", dmo="dmo-a")[1])
    viewer = bearer(create_key(engine, role="viewer")[1])

    queue_page = client.get(PREFIX + "/queue", headers=viewer).json()
    assert [j["id"] for j in queue_page["items"]] == [
        r.id for r in job_rows(engine, JobFilter(), limit=50)
    ]
    assert [j["id"] for j in client.get(PREFIX + "/queue", headers=scoped).json()["items"]] == [
        mine.job_id
    ]
    # a scoped key naming another DMO sees nothing (not the other DMO's jobs)
    assert client.get(PREFIX + "/queue?dmo=dmo-b", headers=scoped).json()["items"] == []

    detail = client.get(PREFIX + f"/jobs/{mine.job_id}", headers=scoped).json()
    expected = job_detail(engine, mine.job_id, dmo="dmo-a", limit=100)
    assert [a["id"] for a in detail["attempts"]] == [a.id for a in expected.attempts]
    assert detail["correlation_id"] == "corr-dmo-a"
    assert client.get(PREFIX + f"/jobs/{other.job_id}", headers=scoped).status_code == 404
    attempts = client.get(PREFIX + "/jobs", headers=scoped).json()["items"]
    assert [(a["queue_id"], a["status"]) for a in attempts] == [(mine.job_id, "failed")]

    errors = client.get(PREFIX + "/errors", headers=viewer).json()["items"]
    assert [e["id"] for e in errors] == [r.id for r in list_errors(engine)]
    assert [e["id"] for e in client.get(PREFIX + "/errors", headers=scoped).json()["items"]] == [
        mine.error_id
    ]
    one = client.get(PREFIX + "/errors?limit=1", headers=viewer).json()
    assert (len(one["items"]), one["next"]) == (1, other.error_id)
    rest = client.get(PREFIX + f"/errors?limit=1&after={other.error_id}", headers=viewer).json()
    assert ([e["id"] for e in rest["items"]], rest["next"]) == ([mine.error_id], None)
