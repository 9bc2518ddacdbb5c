"""``/dashboard``: the operators' page, server-rendered, updated live from the events
WebSocket.

Log in with an API key in the form: the key is kept in an HttpOnly, SameSite=Strict cookie
(never in a URL, which access logs keep). A request carrying the cookie from another site's
page (its ``Origin`` is not this host) is not authenticated. The Retry button posts a form
with a CSRF token derived from the key (an HMAC of it: another site cannot know it), and
needs an operator key. A DMO-scoped key sees its DMO's jobs, errors and crawls only.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from pipeline_core.api import dashboard_html
from pipeline_core.api.auth import COOKIE, check_key, presented_secret
from pipeline_core.api.endpoints import json_response, read_body
from pipeline_core.api.problems import Problem
from pipeline_core.api.state import ApiState
from pipeline_core.db.tables import queue
from pipeline_core.exceptions import QueueError
from pipeline_core.operations.keys import ApiKey
from pipeline_core.operations.overview import overview

#: Seconds the login cookie lasts.
COOKIE_SECONDS = 12 * 3600
#: Largest form a dashboard POST may send.
FORM_LIMIT = 4096
#: Headers of every dashboard answer: nothing loaded from elsewhere, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make forms send Origin: null
    "Cache-Control": "no-store",
}
_STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def csrf_token(secret: str) -> str:
    """The CSRF token of a key's dashboard forms: HMAC-SHA256 of a fixed text under the key."""
    return hmac.new(secret.encode(), b"dmo-pipeline dashboard", hashlib.sha256).hexdigest()


def _html(text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)


def _where(request: Request) -> str:
    client = request.client.host if request.client else "?"
    return f"{request.method} {request.url.path} from {client}"


async def _key(request: Request, role: str = "viewer") -> tuple[ApiKey, str]:
    """The cookie's (or header's) key, checked for ``role``; :class:`Problem` when none."""
    state: ApiState = request.app.state.api
    secret = presented_secret(request)
    if secret is None:
        raise Problem(401, "log in with an API key")
    return await check_key(state, secret, role, _where(request)), secret


def _sources_of(state: ApiState, dmo: str | None) -> list[str] | None:
    if dmo is None:
        return None
    from pipeline_core.api.rows import sources_of_dmo

    with state.engine.connect() as conn:
        return sources_of_dmo(state, conn, dmo)


def _overview(state: ApiState, dmo: str | None) -> Any:
    return overview(state.engine, dmo=dmo, sources=_sources_of(state, dmo))


async def _form(request: Request) -> dict[str, str]:
    body = await read_body(request, FORM_LIMIT)
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


async def dashboard(request: Request) -> Response:
    """The page, or the login form when the request has no valid key."""
    state: ApiState = request.app.state.api
    try:
        key, secret = await _key(request)
    except Problem as problem:
        error = None if problem.status == 401 and COOKIE not in request.cookies else problem.detail
        return _html(dashboard_html.login_page(error), 200 if error is None else problem.status)
    data = await run_in_threadpool(_overview, state, key.dmo)
    csrf = csrf_token(secret) if key.allows("operator") else None
    named = f" ({key.name})" if key.name else ""
    who = f"key {key.id}{named}, {key.role}, " + (f"DMO {key.dmo}" if key.dmo else "every DMO")
    flash = request.query_params.get("done")
    shown = flash if flash in ("retried", "not retried") else None
    job = request.query_params.get("job", "")
    if shown and job.isdigit():
        shown = f"job {job} {shown}"
        if request.query_params.get("why"):
            shown += f": {request.query_params['why'][:300]}"
    return _html(dashboard_html.page(data, csrf, who, shown))


async def panels(request: Request) -> Response:
    """Each panel's inner HTML as JSON (the page swaps them in when events arrive)."""
    state: ApiState = request.app.state.api
    try:
        key, secret = await _key(request)
    except Problem as problem:
        return problem.response()
    data = await run_in_threadpool(_overview, state, key.dmo)
    csrf = csrf_token(secret) if key.allows("operator") else None
    answer = json_response(dashboard_html.panels(data, csrf))
    answer.headers.update(SECURITY_HEADERS)
    return answer


async def login(request: Request) -> Response:
    """Check the form's key; keep it in the cookie and go to the dashboard."""
    state: ApiState = request.app.state.api
    form = await _form(request)
    secret = form.get("key", "").strip()
    if not secret:
        return _html(dashboard_html.login_page("give an API key"), 422)
    try:
        await check_key(state, secret, "viewer", _where(request))
    except Problem as problem:
        return _html(dashboard_html.login_page(problem.detail), problem.status)
    answer = RedirectResponse("/dashboard/", status_code=303, headers=SECURITY_HEADERS)
    answer.set_cookie(
        COOKIE,
        secret,
        max_age=COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


async def logout(_request: Request) -> Response:
    """Forget the cookie."""
    answer = RedirectResponse("/dashboard/", status_code=303, headers=SECURITY_HEADERS)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def _retry(state: ApiState, job_id: int, dmo: str | None) -> str | None:
    """Retry dead letter ``job_id`` (of ``dmo`` when scoped): None, or why not."""
    from pipeline_core.queue.runner import max_attempts_of
    from pipeline_core.queue.store import retry_job

    with state.engine.connect() as conn:
        query = sa.select(queue.c.type).where(queue.c.id == job_id)
        if dmo is not None:
            query = query.where(queue.c.dmo == dmo)
        job_type = conn.execute(query).scalar()
    if job_type is None:
        return f"no job {job_id}"
    pm = state.plugin_manager()
    budget = max(1, max_attempts_of(pm.job_types(), job_type, pm.settings))
    try:
        retry_job(state.engine, job_id, pm.settings, budget)
    except QueueError as exc:
        return str(exc)
    return None


async def retry(request: Request) -> Response:
    """The Retry button: an operator key and the form's CSRF token."""
    state: ApiState = request.app.state.api
    try:
        key, secret = await _key(request, "operator")
    except Problem as problem:
        return _html(f"<p>{escape(problem.detail)}</p>", problem.status)
    form = await _form(request)
    if not hmac.compare_digest(form.get("csrf", ""), csrf_token(secret)):
        return _html("<p>the form's CSRF token is missing or wrong: reload the dashboard</p>", 403)
    raw = request.path_params["id"]
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        return _html(f"<p>no job {raw}</p>", 404)
    why = await run_in_threadpool(_retry, state, int(raw), key.dmo)
    query = {"done": "retried" if why is None else "not retried", "job": raw}
    if why is not None:
        query["why"] = why
    return RedirectResponse("/dashboard/?" + urlencode(query), status_code=303)


async def static(request: Request) -> Response:
    """The page's own script and style sheet (vendored: nothing comes from a CDN)."""
    name = request.path_params["name"]
    if name not in _STATIC:
        return Response("not found", status_code=404)
    text = resources.files("pipeline_core.api").joinpath(f"static/{name}").read_text("utf-8")
    return Response(text, media_type=_STATIC[name], headers={"Cache-Control": "max-age=300"})


def dashboard_mount() -> Mount:
    """The ``/dashboard`` routes."""
    return Mount(
        "/dashboard",
        routes=[
            Route("/", dashboard, methods=["GET"], name="dashboard"),
            Route("/panels", panels, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/jobs/{id}/retry", retry, methods=["POST"]),
            Route("/static/{name}", static, methods=["GET"]),
        ],
    )
