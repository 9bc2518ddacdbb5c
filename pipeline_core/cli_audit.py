"""``dmo-pipeline audit``: the audit trail (pipeline.audit), newest first."""

from __future__ import annotations

from datetime import datetime

import click
import orjson

from pipeline_core.operations.jobs import when


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time (2026-12-01T00:00:00+00:00)", param_hint=option
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the time's offset (+00:00 or Z)", param_hint=option)
    return moment


@click.command()
@click.option("--action", help="Only this action (config.changed), or a kind (config).")
@click.option("--key", "key_id", type=int, help="Only changes made with this API key id.")
@click.option("--actor", help="Only changes by this actor (a key's name, cli:USER).")
@click.option("--dmo", help="Only changes of this DMO.")
@click.option("--target", help="Only changes of this target (a config name, key or job id).")
@click.option("--since", help="Only changes at or after this ISO 8601 time.")
@click.option("--until", help="Only changes before this ISO 8601 time.")
@click.option("--after", type=int, help="Only rows with an id below this (the next page).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most rows."
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line, with before/after."
)
def audit(
    action: str | None,
    key_id: int | None,
    actor: str | None,
    dmo: str | None,
    target: str | None,
    since: str | None,
    until: str | None,
    after: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """List who changed what (pipeline.audit), newest first: time, actor (key id and name or
    cli:USER), address, action, target and DMO; --json adds the state before and after."""
    from pipeline_core.cli_queue import _engine
    from pipeline_core.operations.audit import AuditFilter, list_audit

    found = list_audit(
        _engine(),
        AuditFilter(
            action=action,
            key_id=key_id,
            actor=actor,
            dmo=dmo,
            target=target,
            since=_time(since, "--since"),
            until=_time(until, "--until"),
            after=after,
        ),
        limit,
    )
    if as_json:
        for row in found.rows:
            click.echo(orjson.dumps(row, default=str).decode())
        return
    if not found.rows:
        click.echo("no audit rows")
        return
    click.echo(f"{'id':>6}  {'when':<19}  {'actor':<24} {'address':<16} {'action':<24} target")
    for row in found.rows:
        who = row["actor"] if row["key_id"] is None else f"key {row['key_id']} {row['actor']}"
        click.echo(
            f"{row['id']:>6}  {when(row['at']):<19}  {who[:24]:<24} "
            f"{(row['address'] or '-')[:16]:<16} {row['action']:<24} {row['target'] or '-'}"
            + (f" (dmo {row['dmo']})" if row["dmo"] else "")
        )
    if found.next is not None:
        click.echo(f"more: --after {found.next}")
