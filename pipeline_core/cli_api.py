"""The API's commands: ``dmo-pipeline serve``, ``keys create|list|revoke`` and
``configs set-credential|rotate-credentials``."""

from __future__ import annotations

import sys
from datetime import datetime

import click
import sqlalchemy as sa

from pipeline_core.config import load_settings


def _engine() -> sa.Engine:
    """The database engine, at the newest schema (SQLite is migrated on the spot)."""
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema

    engine = make_engine(load_settings().database_url)
    ensure_schema(engine)
    return engine


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes (uvicorn workers).",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="TLS certificate (PEM); with --ssl-keyfile the API speaks HTTPS.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="TLS private key (PEM).",
)
def serve(
    host: str, port: int, workers: int, ssl_certfile: str | None, ssl_keyfile: str | None
) -> None:
    """Run the HTTP API (uvicorn, app factory pipeline_core.api:create_app).

    It binds only --host (default loopback). Routes are under /api/v1/pipeline; the OpenAPI
    document is /api/v1/openapi.json and its page /docs.
    """
    import uvicorn

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    settings = load_settings()
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema

    ensure_schema(make_engine(settings.database_url))  # a clear error before binding
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"dmo-pipeline API on {scheme}://{host}:{port}/api/v1/pipeline (docs: /docs)")
    from pipeline_core.log_format import configure_logging

    # uvicorn's lines go through the root logger, in PIPELINE_LOG_FORMAT; the app writes one
    # access line per request itself (pipeline_core.api.observe), with its correlation id
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        "pipeline_core.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (pipeline.api_keys keeps only their hashes)."""


@keys.command("create")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="viewer reads; operator also queues, processes, retries, uploads; admin "
    "also edits configs, promotes and manages keys.",
)
@click.option("--dmo", default=None, help="Scope the key to one DMO (slug).")
@click.option("--name", default="", help="What the key is for.")
@click.option(
    "--expires",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="DAYS",
    help="Expire after DAYS days (default: never).",
)
def keys_create(role: str, dmo: str | None, name: str, expires: float | None) -> None:
    """Create a key and print it once (it cannot be shown again)."""
    from pipeline_core.operations.audit import cli_actor, record_now
    from pipeline_core.operations.keys import create_key

    engine = _engine()
    key, secret = create_key(engine, role=role, dmo=dmo, name=name, expires_days=expires)
    record_now(engine, cli_actor(), "key.created", str(key.id), dmo=key.dmo, after=key.as_json())
    scope = f"DMO {key.dmo}" if key.dmo else "every DMO"
    click.echo(f"key {key.id} ({key.role}, {scope}); shown once, keep it now:")
    click.echo(secret)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@keys.command("list")
def keys_list() -> None:
    """List keys: id, prefix, role, DMO, name, created, expires, revoked, last used."""
    from pipeline_core.operations.keys import list_keys

    found = list_keys(_engine())
    if not found:
        click.echo("no keys")
        return
    click.echo(
        f"{'id':>4}  {'prefix':<10}  {'role':<8}  {'dmo':<16}  {'created':<16}  "
        f"{'expires':<16}  {'revoked':<16}  name"
    )
    for key in found:
        click.echo(
            f"{key.id:>4}  {key.prefix:<10}  {key.role:<8}  {key.dmo or '-':<16}  "
            f"{_when(key.created_at):<16}  {_when(key.expires_at):<16}  "
            f"{_when(key.revoked_at):<16}  {key.name}"
        )


@keys.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke key ID: refused from the next request on, by every API process."""
    from pipeline_core.operations.audit import cli_actor, record_now
    from pipeline_core.operations.keys import revoke_key

    engine = _engine()
    key = revoke_key(engine, key_id)
    record_now(engine, cli_actor(), "key.revoked", str(key.id), dmo=key.dmo, after=key.as_json())
    click.echo(f"key {key.id} ({key.role}) revoked")


@click.group()
def configs() -> None:
    """Credentials of stored configurations (pipeline.configs)."""


@configs.command("set-credential")
@click.argument("config", metavar="CONFIG")
@click.argument("name", metavar="NAME")
@click.option(
    "--value-stdin",
    is_flag=True,
    help="Read the value from standard input (else it is prompted for, hidden).",
)
def set_credential_command(config: str, name: str, value_stdin: bool) -> None:
    """Encrypt and store credential NAME of stored configuration CONFIG (used in its headers
    as ${credential:NAME}). The value is never printed."""
    from pipeline_core.credentials import set_credential
    from pipeline_core.db.engine import write_transaction
    from pipeline_core.operations.audit import cli_actor, record
    from pipeline_core.operations.configs import get_config

    value = sys.stdin.read().rstrip("\n") if value_stdin else click.prompt("value", hide_input=True)
    if not value:
        raise click.UsageError("the credential's value is empty")
    settings = load_settings()
    with write_transaction(_engine()) as conn:
        row = get_config(conn, config)
        set_credential(conn, settings, config, name, value)
        after = {"credential": name}  # its name only, never its value
        record(conn, cli_actor(), "config.credential_set", config, dmo=row["dmo"], after=after)
    click.echo(f"credential {name} of {config} set (encrypted)")


@configs.command("rotate-credentials")
def rotate_credentials_command() -> None:
    """Re-encrypt every credential under the first key of PIPELINE_SECRET_KEY."""
    from pipeline_core.credentials import rotate_credentials
    from pipeline_core.operations.audit import cli_actor, record_now

    engine = _engine()
    count = rotate_credentials(engine, load_settings())
    record_now(engine, cli_actor(), "config.credentials_rotated", after={"count": count})
    click.echo(f"{count} credential(s) re-encrypted with the first key")
