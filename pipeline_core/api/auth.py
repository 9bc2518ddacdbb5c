"""Bearer keys, roles and per-key rate limits of the API.

``Authorization: Bearer KEY``; no key, an unknown, revoked or expired key is 401 (logged with
the key's id when known, never the key); a role below the route's is 403; past
``PIPELINE_API_RATE_LIMIT`` a key gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pipeline_core.api.problems import Problem
from pipeline_core.api.state import ApiState
from pipeline_core.db.tables import api_keys
from pipeline_core.operations.keys import ApiKey, find_key

logger = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dmo-pipeline"'}


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


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
    key, refused = await run_in_threadpool(_lookup, state, secret.strip())
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
