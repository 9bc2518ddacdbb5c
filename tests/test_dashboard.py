"""The dashboard: login, figures as the database holds them, DMO scope, the Retry button's
role and CSRF token, and, in headless Chromium, a job seen going to completed without a
reload (a screenshot is kept in ``test-artifacts/``)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from api_kit import PREFIX, app_maker, bearer, http_client, seed_dmo
from conftest import ROOT
from dashboard_kit import DURATIONS, database_figures, seed_figures

from pipeline_core.api.auth import COOKIE
from pipeline_core.api.dashboard import csrf_token
from pipeline_core.db.tables import queue
from pipeline_core.operations.keys import create_key

OWN, OTHER = "visit-own", "visit-other"
CHROMIUM = Path("/usr/bin/chromium")
#: Chromium's flags: headless, and nothing that talks to the network by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _cookie(key: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={key}"}


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-metric="([^"]+)">([^<]*)<', html))


def _seeded(app: Any) -> tuple[Any, dict[str, str]]:
    engine = app.state.api.engine
    settings = app.state.api.settings
    seed = seed_dmo(engine, settings, OWN)
    figures = seed_figures(engine, OWN, seed.source, seed.job_id)
    counted = database_figures(engine)
    assert counted["by_status"] == {"completed": 10, "queued": 1, "failed": 1}
    assert counted["durations"] == DURATIONS
    return seed, figures


def test_the_dashboard_shows_the_figures_of_the_keys_dmo(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    seed, figures = _seeded(app)
    other = seed_dmo(engine, app.state.api.settings, OTHER)
    client = http_client(app)
    login = client.get("/dashboard/")
    assert login.status_code == 200 and 'action="/dashboard/login"' in login.text
    refused = client.post("/dashboard/login", data={"key": "dmo_wrong"})
    assert refused.status_code == 401
    assert "the key is unknown, revoked or expired" in refused.text
    own = create_key(engine, role="viewer", dmo=OWN)[1]
    answer = client.post("/dashboard/login", data={"key": own}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/"
    cookie = answer.headers["set-cookie"]
    client.cookies.clear()
    assert f"{COOKIE}={own}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/dashboard/", headers=_cookie(own))
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    shown = _figures(page.text)
    assert {name: shown.get(name) for name in figures} == figures
    assert f'data-dead="{seed.job_id}"' in page.text
    assert f'data-dead="{other.job_id}"' not in page.text and other.source not in page.text
    assert "data-retry" not in page.text  # a viewer key: no Retry button
    # The other DMO's key sees its own dead letter and none of the first DMO's figures.
    theirs = create_key(engine, role="viewer", dmo=OTHER)[1]
    their_page = client.get("/dashboard/", headers=_cookie(theirs)).text
    assert _figures(their_page)["total.completed"] == "0"
    assert f'data-dead="{other.job_id}"' in their_page and seed.source not in their_page
    panels = client.get("/dashboard/panels", headers=_cookie(own)).json()
    assert sorted(panels) == sorted(
        f"panel-{p}" for p in ("queue", "rate", "outcomes", "durations", "errors", "crawls", "dead")
    )
    assert client.get("/dashboard/panels").status_code == 401
    for name in ("dashboard.js", "dashboard.css"):
        text = client.get(f"/dashboard/static/{name}").text
        assert "http://" not in text and "https://" not in text  # vendored, nothing fetched
    assert client.get("/dashboard/static/x.js").status_code == 404


def test_retry_needs_an_operator_key_and_the_forms_token(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    seed, _ = _seeded(app)
    client = http_client(app)
    url = f"/dashboard/jobs/{seed.job_id}/retry"
    viewer = create_key(engine, role="viewer", dmo=OWN)[1]
    operator = create_key(engine, role="operator", dmo=OWN)[1]
    stranger = create_key(engine, role="operator", dmo=OTHER)[1]
    token = csrf_token(operator)
    assert f'value="{token}"' in client.get("/dashboard/", headers=_cookie(operator)).text
    answers = {
        "viewer": client.post(url, data={"csrf": csrf_token(viewer)}, headers=_cookie(viewer)),
        "no token": client.post(url, data={}, headers=_cookie(operator)),
        "foreign page": client.post(
            url,
            data={"csrf": token},
            headers={**_cookie(operator), "origin": "http://evil.example"},
        ),
    }
    assert {name: a.status_code for name, a in answers.items()} == {
        "viewer": 403,
        "no token": 403,
        "foreign page": 401,
    }
    wrong_dmo = client.post(
        url, data={"csrf": csrf_token(stranger)}, headers=_cookie(stranger), follow_redirects=False
    )
    assert wrong_dmo.headers["location"].endswith(
        f"done=not+retried&job={seed.job_id}&why=no+job+{seed.job_id}"
    )
    done = client.post(url, data={"csrf": token}, headers=_cookie(operator), follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/dashboard/?done=retried&job={seed.job_id}"
    with engine.connect() as conn:
        status = conn.execute(sa.select(queue.c.status).where(queue.c.id == seed.job_id)).scalar()
    assert status == "queued"
    flash = client.get(done.headers["location"], headers=_cookie(operator)).text
    assert f"job {seed.job_id} retried" in flash


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) for the whole session, driven by Playwright."""
    if not CHROMIUM.exists():
        if os.environ.get("PIPELINE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_app(make_app: Any) -> Iterator[tuple[Any, str]]:
    """The app served by uvicorn on loopback (in a thread), and its URL."""
    import uvicorn

    app = make_app(PIPELINE_POLL_INTERVAL="0.2")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.timeout(180)
def test_the_browser_logs_in_reads_every_figure_and_sees_a_job_complete_live(
    browser: Any, live_app: tuple[Any, str], request: pytest.FixtureRequest
) -> None:
    app, url = live_app
    engine = app.state.api.engine
    seed, figures = _seeded(app)
    operator = create_key(engine, role="operator", dmo=OWN)[1]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(url + "/dashboard/")
        page.fill("#key", operator)
        page.click("button[type=submit]")
        page.wait_for_selector("#panel-queue")
        shown = page.eval_on_selector_all(
            "[data-metric]",
            "els => Object.fromEntries(els.map(e => [e.dataset.metric, e.textContent]))",
        )
        assert {name: shown.get(name) for name in figures} == figures
        page.wait_for_selector("#live-status.live")  # the WebSocket is open
        assert page.locator(f'button[data-retry="{seed.job_id}"]').count() == 1
        # A job queued and processed through the API, seen without a reload.
        with httpx.Client(base_url=url, headers=bearer(operator), timeout=30) as http:
            added = http.post(PREFIX + "/queue", json={"type": "noop"})
            assert added.status_code == 201, added.text
            job_id = added.json()["id"]
            assert http.post(PREFIX + "/queue/process", json={}).status_code == 200
        page.wait_for_selector(f'#live tr[data-job="{job_id}"][data-state="completed"]')
        page.wait_for_selector('[data-metric="depth.noop.completed"]:text-is("11")')
        assert page.text_content('[data-metric="total.completed"]') == "11"
        assert page.text_content('[data-metric="total.queued"]') == "1"
        ARTIFACTS.mkdir(exist_ok=True)
        backend = request.node.callspec.params["db_url"]
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{backend}.png"), full_page=True)
        # The Retry button queues the dead letter again.
        page.click(f'button[data-retry="{seed.job_id}"]')
        page.wait_for_selector(".flash")
        assert page.text_content(".flash") == f"job {seed.job_id} retried"
        with engine.connect() as conn:
            status = conn.execute(
                sa.select(queue.c.status).where(queue.c.id == seed.job_id)
            ).scalar()
        assert status == "queued"
    finally:
        context.close()
