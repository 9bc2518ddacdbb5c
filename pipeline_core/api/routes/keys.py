"""API keys over HTTP (admin keys without a DMO scope only)."""

from __future__ import annotations

from typing import Any

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import not_found
from pipeline_core.api.schemas import ID, KEY
from pipeline_core.operations.keys import ApiKeyError, create_key, list_keys, revoke_key


def _unscoped(call: Call) -> None:
    if call.dmo is not None:
        raise Problem(403, "keys are managed with an admin key that is not scoped to a DMO")


def list_keys_route(call: Call) -> dict[str, Any]:
    """Every key (never a secret)."""
    _unscoped(call)
    return {"items": [key.as_json() for key in list_keys(call.state.engine)]}


def create_key_route(call: Call) -> dict[str, Any]:
    """Create a key; the answer holds its secret, shown this once."""
    _unscoped(call)
    try:
        key, secret = create_key(
            call.state.engine,
            role=call.body["role"],
            dmo=call.body.get("dmo"),
            name=call.body.get("name", ""),
            expires_days=call.body.get("expires_days"),
        )
    except ApiKeyError as exc:
        raise Problem(422, str(exc)) from None
    audit(call, call.state.engine, "key.created", key.id, dmo=key.dmo, after=key.as_json())
    return {**key.as_json(), "key": secret}


def revoke_key_route(call: Call) -> dict[str, Any]:
    """Revoke a key."""
    _unscoped(call)
    try:
        key = revoke_key(call.state.engine, call.path["id"])
    except ApiKeyError:
        raise not_found("API key", call.path["id"]) from None
    audit(call, call.state.engine, "key.revoked", key.id, dmo=key.dmo, after=key.as_json())
    return key.as_json()


_CREATE = {
    "type": "object",
    "required": ["role"],
    "additionalProperties": False,
    "properties": {
        "role": {"enum": ["viewer", "operator", "admin"]},
        "dmo": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"},
        "name": {"type": "string", "maxLength": 200},
        "expires_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 36500},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/keys",
        list_keys_route,
        "List API keys",
        "keys",
        role="admin",
        response={
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": KEY}},
        },
    ),
    Endpoint(
        "POST",
        "/keys",
        create_key_route,
        "Create an API key (its secret shown once)",
        "keys",
        role="admin",
        body=_CREATE,
        status=201,
        response={**KEY, "required": [*KEY["required"], "key"]},
        errors=(413, 422),
    ),
    Endpoint(
        "DELETE",
        "/keys/{id}",
        revoke_key_route,
        "Revoke an API key",
        "keys",
        role="admin",
        path_params={"id": ID},
        response=KEY,
        errors=(404,),
    ),
]
