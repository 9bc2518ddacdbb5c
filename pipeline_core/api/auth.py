"""Bearer keys, roles and per-key rate limits of the API.

``Authorization: Bearer KEY``; no key, an unknown, revoked or expired key is 401 (logged with
the key's id when known, never the key); a role below the route's is 403; past
``PIPELINE_API_RATE_LIMIT`` a key gets 429 with ``Retry-After``. The events WebSocket and
the dashboard also take the key from the dashboard's cookie (:func:`presented_secret`).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request

from pipeline_core.api.problems import Problem
from pipeline_core.api.state import ApiState
from pipeline_core.db.tables import api_keys
from pipeline_core.operations.keys import ApiKey, find_key

logger = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dmo-pipeline"'}


def _client(request: HTTPConnection) -> str:
    return request.client.host if request.client else "?"


#: The dashboard's cookie: the key, set by its login form (HttpOnly, SameSite=Strict).
COOKIE = "dmo_pipeline_key"


def same_origin(conn: HTTPConnection) -> bool:
    """False when the request says it comes from a page of another site (its ``Origin``
    is not this host): a cookie sent along must not be honoured then."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")


def presented_secret(conn: HTTPConnection) -> str | None:
    """The key a request or WebSocket presents: ``Authorization: Bearer KEY``, else the
    dashboard's cookie (honoured only from this site's own pages), else None."""
    scheme, _, secret = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    cookie = conn.cookies.get(COOKIE, "").strip()
    if cookie and same_origin(conn):
        return cookie
    return None


def _lookup(state: ApiState, secret: str) -> tuple[ApiKey | None, str]:
    key, refused = find_key(state.engine, secret)
    if key is not None and not refused:
        now = time.monotonic()
        if now - state.key_seen.get(key.id, -math.inf) >= 60:
            state.key_seen[key.id] = now
            with state.engine.begin() as conn:
                conn.execute(
                    sa.update(api_keys)
                    .where(api_keys.c.id == key.id)
                    .values(last_used_at=datetime.now(UTC))
                )
    return key, refused


async def authenticate(request: Request, state: ApiState, role: str | None) -> ApiKey | None:
    """The request's key, checked for ``role`` (None: the route needs no key)."""
    if role is None:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    where = f"{request.method} {request.url.path} from {_client(request)}"
    if scheme.lower() != "bearer" or not secret.strip():
        logger.warning("401 %s: no Bearer key", where)
        raise Problem(401, "this route needs a key: Authorization: Bearer KEY", headers=_CHALLENGE)
    return await check_key(state, secret.strip(), role, where)


async def check_key(state: ApiState, secret: str, role: str, where: str) -> ApiKey:
    """The key whose secret is ``secret``, checked for ``role`` and its rate limit
    (:class:`Problem` 401, 403 or 429); ``where`` names the request in the log."""
    key, refused = await run_in_threadpool(_lookup, state, secret)
    if key is None or refused:
        logger.warning("401 %s: %s", where, refused)
        raise Problem(401, "the key is unknown, revoked or expired", headers=_CHALLENGE)
    item = state.rate_item()
    if item is not None and not state.limiter.hit(item, str(key.id)):
        reset, _ = state.limiter.get_window_stats(item, str(key.id))
        wait = max(1, math.ceil(reset - time.time()))
        raise Problem(
            429,
            f"key {key.id} made more than {item.amount} requests in {item.get_expiry()} s "
            "(PIPELINE_API_RATE_LIMIT)",
            headers={"Retry-After": str(wait)},
        )
    if not key.allows(role):
        raise Problem(403, f"this route needs the {role} role; key {key.id} is a {key.role} key")
    return key
