"""Stored configurations, their credentials and their preview."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.responses import Response

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem, field_problem
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import not_found
from pipeline_core.api.schemas import CONFIG
from pipeline_core.credentials import credential_names, delete_credential, set_credential
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import configs
from pipeline_core.exceptions import ConfigError, MappingError
from pipeline_core.operations.configs import (
    ConfigNotFound,
    check_config,
    config_document,
    config_json,
    config_yaml,
    delete_config,
    get_config,
    save_config,
)

NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"}


def _row(call: Call, conn: sa.Connection, name: str) -> Any:
    try:
        row = get_config(conn, name)
    except ConfigNotFound:
        raise not_found("stored configuration", name) from None
    if call.dmo is not None and row["dmo"] != call.dmo:
        raise not_found("stored configuration", name)
    return row


def list_configs(call: Call) -> dict[str, Any]:
    """Stored configurations the key may see."""
    query = sa.select(configs).order_by(configs.c.name)
    if call.dmo is not None:
        query = query.where(configs.c.dmo == call.dmo)
    with call.state.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        return {"items": [config_json(r, credential_names(conn, r["name"])) for r in rows]}


def _checked(call: Call, doc: dict[str, Any], name: str) -> Any:
    if call.dmo is not None and doc.get("dmo") != call.dmo:
        raise field_problem(403, "body", "dmo", f"this key acts for DMO {call.dmo!r} only")
    pm = call.state.plugin_manager()
    try:
        return check_config(doc, name, pm.fetchers(), transforms=pm.transforms(), text=call.text)
    except MappingError as exc:
        raise _config_problem(call, exc) from None


def _config_problem(call: Call, exc: MappingError) -> Problem:
    """422 naming the key and its line (and column: a JSON body is often one line)."""
    message = str(exc)
    key = exc.key or ""
    if not key and ": at " in message:
        key = message.split(": at ", 1)[1].split(":", 1)[0]
    error: dict[str, Any] = {"in": "body", "name": key, "detail": message}
    if exc.line is not None:
        error["line"] = exc.line
        if exc.column is not None:
            error["column"] = exc.column
            where = f":{exc.line}: "
            if not call.yaml_body and where in message:
                origin, rest = message.split(where, 1)
                message = f"{origin}:{exc.line}:{exc.column}: {rest}"
                error["detail"] = message
    return Problem(422, message, errors=[error])


def create_config(call: Call) -> dict[str, Any]:
    """Store a new source configuration, checked like a mapping file by ``sources --check``
    (a JSON body, or YAML with ``Content-Type: application/yaml``); an error names the key
    and its line."""
    name = call.body.get("source")
    if not isinstance(name, str) or not name:
        raise field_problem(422, "body", "source", "a stored configuration needs its source name")
    checked = _checked(call, call.body, name)
    with write_transaction(call.state.engine) as conn:
        existing = conn.execute(sa.select(configs.c.dmo).where(configs.c.name == name)).scalar()
        if existing is not None:
            raise Problem(409, f"stored configuration {name!r} already exists")
        if name in call.state.sources():
            raise Problem(409, f"a source named {name!r} is already defined elsewhere")
        row = save_config(conn, checked, create=True)
        audit(call, conn, "config.created", name, dmo=row["dmo"], after=config_document(row))
        return config_json(row, [])


def get_config_route(call: Call) -> Any:
    """One stored configuration (credential names only, never values); its mapping document
    as YAML text when asked with ``Accept: application/yaml``."""
    with call.state.engine.connect() as conn:
        row = _row(call, conn, call.path["name"])
        if call.wants_yaml():
            return Response(config_yaml(row), media_type="application/yaml")
        return config_json(row, credential_names(conn, row["name"]))


def put_config(call: Call) -> dict[str, Any]:
    """Replace a stored configuration (JSON or YAML, checked as on ``POST /configs``)."""
    name = call.path["name"]
    with call.state.engine.connect() as conn:
        _row(call, conn, name)
    checked = _checked(call, call.body, name)
    with write_transaction(call.state.engine) as conn:
        before = config_document(get_config(conn, name))
        row = save_config(conn, checked, create=False)
        after = config_document(row)
        audit(call, conn, "config.changed", name, dmo=row["dmo"], before=before, after=after)
        return config_json(row, credential_names(conn, name))


def delete_config_route(call: Call) -> dict[str, Any]:
    """Delete a stored configuration and its credentials."""
    name = call.path["name"]
    with write_transaction(call.state.engine) as conn:
        row = _row(call, conn, name)
        audit(call, conn, "config.deleted", name, dmo=row["dmo"], before=config_document(row))
        delete_config(conn, name)
    return {"deleted": name}


def put_credential(call: Call) -> dict[str, Any]:
    """Set (encrypt and store) one credential of a stored configuration; ``value`` is never
    returned or logged."""
    name = call.path["name"]
    with write_transaction(call.state.engine) as conn:
        row = _row(call, conn, name)
        try:
            if call.body.get("value") is None:
                delete_credential(conn, name, call.body["name"])
            else:
                set_credential(
                    conn, call.state.settings, name, call.body["name"], call.body["value"]
                )
        except ConfigError as exc:
            raise Problem(422 if "name" in str(exc) else 503, str(exc)) from None
        removed = call.body.get("value") is None
        action = "config.credential_removed" if removed else "config.credential_set"
        # the credential's name only, never its value
        audit(call, conn, action, name, dmo=row["dmo"], after={"credential": call.body["name"]})
        return {"config": name, "credentials": credential_names(conn, name)}


def preview(call: Call) -> Any:
    """What ``dmo-pipeline preview NAME --json`` shows (run in a child process)."""
    name = call.path["name"]
    with call.state.engine.connect() as conn:
        _row(call, conn, name)
    limit = call.body.get("limit", 10) if isinstance(call.body, dict) else 10
    env = {**os.environ, **call.state.settings.raw}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline_core.cli",
                "preview",
                name,
                "--json",
                "--limit",
                str(limit),
            ],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            timeout=call.state.settings.api_process_timeout,
        )
    except subprocess.TimeoutExpired:
        raise Problem(
            504, f"preview of {name} took longer than PIPELINE_API_PROCESS_TIMEOUT"
        ) from None
    try:
        return orjson.loads(done.stdout)
    except orjson.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Problem(422, f"preview of {name} failed: {last[:500]}") from None


def draft(call: Call) -> dict[str, Any]:
    """Draft a mapping from a feed's first page (``dmo-pipeline new-source --from URL``)."""
    from pipeline_core.drafting import DraftError, draft_source

    body = call.body
    if call.dmo is not None and body.get("dmo", call.dmo) != call.dmo:
        raise field_problem(403, "body", "dmo", f"this key acts for DMO {call.dmo!r} only")
    try:
        made = draft_source(
            body["source"],
            body["url"],
            fmt=body.get("format"),
            sample_size=body.get("sample", 200),
            dmo=body.get("dmo", call.dmo),
            allowed_hosts=call.state.settings.allowed_hosts,
            transforms=call.state.plugin_manager().transforms(),
            fetchers=call.state.plugin_manager().fetchers(),
        )
    except DraftError as exc:
        raise field_problem(422, "body", "url", str(exc)) from None
    return made.as_json()


_DOC = {
    "type": "object",
    "maxProperties": 40,
    "description": "a mapping document (docs/reference/mapping.md)",
}
_CREDENTIAL = {
    "type": "object",
    "required": ["name", "value"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"},
        "value": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096},
    },
}
_LIST = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": CONFIG}},
}

ENDPOINTS = [
    Endpoint(
        "GET", "/configs", list_configs, "List stored configurations", "configs", response=_LIST
    ),
    Endpoint(
        "POST",
        "/configs",
        create_config,
        "Store a configuration",
        "configs",
        role="admin",
        body=_DOC,
        response=CONFIG,
        status=201,
        errors=(403, 409, 413, 422),
        yaml=True,
    ),
    Endpoint(
        "GET",
        "/configs/{name}",
        get_config_route,
        "A stored configuration",
        "configs",
        path_params={"name": NAME},
        response=CONFIG,
        errors=(404,),
        yaml=True,
    ),
    Endpoint(
        "PUT",
        "/configs/{name}",
        put_config,
        "Replace a stored configuration",
        "configs",
        role="admin",
        path_params={"name": NAME},
        body=_DOC,
        response=CONFIG,
        errors=(403, 404, 413, 422),
        yaml=True,
    ),
    Endpoint(
        "DELETE",
        "/configs/{name}",
        delete_config_route,
        "Delete a stored configuration",
        "configs",
        role="admin",
        path_params={"name": NAME},
        response={"type": "object", "required": ["deleted"]},
        errors=(404,),
    ),
    Endpoint(
        "PUT",
        "/configs/{name}/credentials",
        put_credential,
        "Set or remove a credential of a stored configuration",
        "configs",
        role="admin",
        path_params={"name": NAME},
        body=_CREDENTIAL,
        response={"type": "object", "required": ["config", "credentials"]},
        errors=(404, 413, 422, 503),
    ),
    Endpoint(
        "POST",
        "/configs/draft",
        draft,
        "Draft a mapping from a feed",
        "configs",
        role="admin",
        body={
            "type": "object",
            "additionalProperties": False,
            "required": ["source", "url"],
            "properties": {
                "source": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"},
                "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
                "format": {"enum": ["json", "xml", "csv", "html", "jsonld"]},
                "sample": {"type": "integer", "minimum": 1, "maximum": 1000},
                "dmo": NAME,
            },
        },
        response={"type": "object", "required": ["mapping", "sampled", "staged"]},
        errors=(403, 413, 422),
    ),
    Endpoint(
        "POST",
        "/configs/{name}/preview",
        preview,
        "Preview a stored configuration",
        "configs",
        role="operator",
        path_params={"name": NAME},
        body={
            "type": "object",
            "additionalProperties": False,
            "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}},
        },
        response={"type": "object"},
        errors=(404, 413, 422, 504),
    ),
]
