"""Commands of production and data quality: ``promote``, ``quality``, ``export`` and
``duplicates``. Each calls the service function the API calls too."""

from __future__ import annotations

import getpass
import sys

import click
import sqlalchemy as sa

from pipeline_core.config import load_settings


def _engine() -> sa.Engine:
    from pipeline_core.cli_queue import _engine as engine

    return engine()


def _policy() -> object:
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.quality.gate import QualityPolicy

    settings = load_settings()
    return QualityPolicy.from_settings(settings, get_plugin_manager(settings).sources())


def _dmos(engine: sa.Engine, dmo: str | None, source: str | None, ids: list[int]) -> list[str]:
    """The DMOs a promotion covers: ``--dmo``, else those of the staging listings chosen."""
    from pipeline_core.db.tables import staging

    if dmo:
        return [dmo]
    listings = staging["listings"]
    query = sa.select(listings.c.dmo).distinct().order_by(listings.c.dmo)
    if source:
        query = query.where(listings.c.source == source)
    if ids:
        query = query.where(listings.c.id.in_(ids))
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


@click.command()
@click.option("--source", help="Promote only this source's listings.")
@click.option("--dmo", help="Promote only this DMO's listings (default: every DMO chosen).")
@click.option("--ids", help="Promote only these staging listing ids (comma-separated).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print each listing's field changes.")
@click.option("--rollback", "rollback_batch", type=int, help="Roll back this batch instead.")
def promote(
    source: str | None,
    dmo: str | None,
    ids: str | None,
    dry_run: bool,
    show_diff: bool,
    rollback_batch: int | None,
) -> None:
    """Promote valid staging listings into production, one numbered batch per DMO (inserts,
    updates of what changed, withdrawals), or roll a batch back with --rollback BATCH."""
    from pipeline_core.operations.audit import cli_actor, record_now
    from pipeline_core.promotion import promote as promote_service
    from pipeline_core.promotion import rollback

    engine = _engine()
    user = getpass.getuser()
    if rollback_batch is not None:
        if source or dmo or ids or dry_run:
            raise click.UsageError("--rollback takes no --source, --dmo, --ids or --dry-run")
        report = rollback(engine, rollback_batch, promoted_by=user)
        done = {"batch": report.batch_id, "status": report.status, "counts": report.counts}
        record_now(
            engine,
            cli_actor(),
            "promotion.rolled_back",
            str(rollback_batch),
            dmo=report.dmo,
            after=done,
        )
        click.echo(report.summary())
        return
    try:
        chosen = [int(i) for i in ids.split(",") if i.strip()] if ids else []
    except ValueError:
        raise click.BadParameter(f"{ids!r} is not a list of numbers", param_hint="--ids") from None
    dmos = _dmos(engine, dmo, source, chosen)
    if not dmos:
        click.echo("nothing staged to promote")
        return
    policy = _policy()
    for name in dmos:
        report = promote_service(
            engine,
            name,
            source=source,
            ids=chosen or None,
            dry_run=dry_run,
            promoted_by=user,
            quality=policy,  # type: ignore[arg-type]
        )
        if not dry_run:
            done = {"batch": report.batch_id, "status": report.status, "counts": report.counts}
            record_now(
                engine, cli_actor(), "promotion.run", str(report.batch_id), dmo=name, after=done
            )
        click.echo(report.summary())
        for change in report.changes:
            if change["action"] == "skipped":
                click.echo(
                    f"  {change['source']}/{change['external_id']} skipped: {change['reason']}"
                )
            elif show_diff:
                click.echo(f"  {change['source']}/{change['external_id']} {change['action']}")
                for path, values in (change["diff"] or {}).items():
                    click.echo(f"      {path}: {values['old']!r} -> {values['new']!r}")


@click.command()
@click.argument("source", required=False, metavar="SOURCE")
@click.option("--no-rescore", is_flag=True, help="Show the stored scores without scoring again.")
def quality(source: str | None, no_rescore: bool) -> None:
    """Score staging listings (0-100, documented weighted rules) and print each source's
    average, lowest score and worst rules."""
    from pipeline_core.quality.store import score_listings, source_quality

    engine = _engine()
    if not no_rescore:
        score_listings(engine, source=source)
    with engine.connect() as conn:
        found = source_quality(conn, source)
    if not found:
        click.echo(f"no scored listings{' of ' + source if source else ''}")
        return
    for row in found:
        worst = ", ".join(f"{rule} -{lost:g}" for rule, lost in row.worst_rules) or "-"
        click.echo(
            f"{row.source}  ({row.dmo})  listings {row.listings}  average {row.average:g}  "
            f"lowest {row.lowest}  worst rules: {worst}"
        )


@click.command()
@click.option("--dmo", required=True, help="The DMO whose production listings to export.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines (one listing per line) or CSV.",
)
@click.option("--anonymize", is_flag=True, help="Mask the personal data sources flag.")
@click.option("--include-withdrawn", is_flag=True, help="Also export withdrawn listings.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to this file, not stdout."
)
def export(
    dmo: str, fmt: str, anonymize: bool, include_withdrawn: bool, output: str | None
) -> None:
    """Stream a DMO's production listings as JSON Lines or CSV; --anonymize masks the
    personal contact data each source's mapping flags (personal_data), by value."""
    from pipeline_core.exports import export_lines
    from pipeline_core.plugins import get_plugin_manager

    engine = _engine()
    sources = get_plugin_manager().sources()
    personal = {
        name: list(source.mapping.doc.get("personal_data", []))
        for name, source in sources.items()
        if source.dmo == dmo
    }
    if anonymize and not any(personal.values()):
        click.echo(
            f"warning: no source of DMO {dmo} flags personal_data: nothing to mask", err=True
        )
    lines = export_lines(
        engine,
        dmo,
        fmt,
        anonymize_data=anonymize,
        personal=personal,
        include_withdrawn=include_withdrawn,
    )
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        for line in lines:
            out.write(line)
    finally:
        if output:
            out.close()


@click.command()
@click.option("--dmo", help="Find the likely duplicates among this DMO's staging listings.")
@click.option(
    "--decide",
    "decided",
    multiple=True,
    metavar="ID=same|different",
    help="Record a decision on candidate pair ID (repeatable).",
)
def duplicates(dmo: str | None, decided: tuple[str, ...]) -> None:
    """Find likely duplicates across a DMO's sources and list the candidate pairs with score
    and evidence, or record decisions on pairs (kept and respected by later runs)."""
    from pipeline_core.duplicates.store import decide, find_duplicates

    if not dmo and not decided:
        raise click.UsageError("give --dmo to find duplicates, or --decide ID=same|different")
    engine = _engine()
    user = getpass.getuser()
    for text in decided:
        number, _, decision = text.partition("=")
        if not number.strip().isdigit():
            raise click.BadParameter(f"{text!r} is not ID=same|different", param_hint="--decide")
        done = decide(engine, int(number), decision.strip(), decided_by=user)
        click.echo(
            f"pair {number}: {done['source_a']}/{done['external_id_a']} and "
            f"{done['source_b']}/{done['external_id_b']} are {decision.strip()}"
        )
    if not dmo:
        return
    pairs = find_duplicates(engine, dmo)
    click.echo(f"{len(pairs)} candidate pair(s) in DMO {dmo}")
    for pair in pairs:
        evidence = pair["evidence"]
        shown = ", ".join(f"{k} {v}" for k, v in evidence.items())
        click.echo(
            f"  {pair['id']}  {pair['score']:.2f}  {pair['source_a']}/{pair['external_id_a']}"
            f"  {pair['source_b']}/{pair['external_id_b']}  ({shown})"
        )


def register(main: click.Group) -> None:
    """Add these commands to ``dmo-pipeline``."""
    for command in (promote, quality, export, duplicates):
        main.add_command(command)
