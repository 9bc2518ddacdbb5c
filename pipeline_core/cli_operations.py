"""The operator's tables: ``dmo-pipeline errors`` and ``dmo-pipeline crawls``."""

from __future__ import annotations

import click
import sqlalchemy as sa

from pipeline_core.operations.jobs import when


def _engine() -> sa.Engine:
    """The database engine, at the newest schema (as the queue commands open it)."""
    from pipeline_core.cli_queue import _engine as engine

    return engine()


@click.command()
@click.option("--source", help="Only errors of this source.")
@click.option("--job", "job_id", type=int, help="Only errors of this job.")
@click.option("--crawl", "crawl_id", type=int, help="Only errors of this crawl.")
@click.option("--stage", help="Only errors of this stage (fetch, map, validate, job...).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most rows."
)
def errors(
    source: str | None, job_id: int | None, crawl_id: int | None, stage: str | None, limit: int
) -> None:
    """List pipeline.errors, newest first: time, source, stage, record, field, job, crawl
    and message (`queue show JOB` shows a failed attempt's traceback)."""
    from pipeline_core.operations.history import list_errors

    rows = list_errors(
        _engine(), source=source, job_id=job_id, crawl_id=crawl_id, stage=stage, limit=limit
    )
    if not rows:
        click.echo("no errors")
        return
    click.echo(
        f"{'id':>6}  {'when':<19}  {'source':<24} {'stage':<9} {'record':<16} {'field':<20} "
        f"{'job':>6} {'crawl':>6}  message"
    )
    for row in rows:
        message = row.message.replace("\n", " ")
        click.echo(
            f"{row.id:>6}  {when(row.created_at):<19}  {row.source or '-':<24} {row.stage:<9} "
            f"{(row.external_id or '-')[:16]:<16} {(row.field or '-')[:20]:<20} "
            f"{row.job_id or '-':>6} {row.crawl_id or '-':>6}  {message[:120]}"
        )


@click.command()
@click.option("--source", help="Only crawls of this source.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most rows."
)
def crawls(source: str | None, limit: int) -> None:
    """List pipeline.crawls, newest first: source, start, end, finish reason, whether it was
    complete and (for a scrape job's crawl) whether its archive was stored, and its counts."""
    from pipeline_core.operations.history import list_crawls

    rows = list_crawls(_engine(), source=source, limit=limit)
    if not rows:
        click.echo("no crawls")
        return
    click.echo(
        f"{'id':>6}  {'source':<26} {'started':<19}  {'finished':<19}  {'reason':<12} "
        f"{'complete':<8} {'archived':<8} counts"
    )
    for row in rows:
        stats = row.stats or {}
        archived = stats.get("archived")
        stored = "-" if archived is None else ("yes" if archived is True else "NO")
        counts = ", ".join(
            f"{key} {stats[key]}"
            for key in ("scraped", "inserted", "updated", "invalid", "withdrawn", "errors")
            if isinstance(stats.get(key), int) and not isinstance(stats.get(key), bool)
        )
        click.echo(
            f"{row.id:>6}  {row.source:<26} {when(row.started_at):<19}  "
            f"{when(row.finished_at):<19}  {(row.finish_reason or '-')[:12]:<12} "
            f"{'yes' if row.complete else 'no':<8} {stored:<8} {counts}"
        )
