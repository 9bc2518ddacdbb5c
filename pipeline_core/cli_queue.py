"""The queue's commands: ``dmo-pipeline worker`` and ``dmo-pipeline queue ...``."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta

import click
import orjson
import sqlalchemy as sa

from pipeline_core.config import load_settings
from pipeline_core.db.tables import queue as queue_table
from pipeline_core.queue.worker import SHUTDOWN_GRACE


def _engine() -> sa.Engine:
    """The database engine, at the newest schema (SQLite is migrated on the spot)."""
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema

    engine = make_engine(load_settings().database_url)
    ensure_schema(engine)
    return engine


def _run_after(text: str | None) -> datetime | None:
    """``--run-after``: seconds from now (``90``, ``+90``) or an ISO 8601 time (UTC if no
    offset)."""
    if text is None:
        return None
    if re.fullmatch(r"\+?\d+(\.\d+)?", text.strip()):
        return datetime.now(UTC) + timedelta(seconds=float(text))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither seconds from now (90) nor an ISO 8601 time "
            "(2027-01-31T06:00:00+00:00)",
            param_hint="--run-after",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes to run.",
)
@click.option("--once", is_flag=True, help="Process the jobs due now, then exit.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=SHUTDOWN_GRACE,
    show_default=True,
    help="Seconds the running job may take to finish after SIGTERM before it is cancelled "
    "(a scrape stops its crawl) and released.",
)
def worker(concurrency: int, once: bool, grace: float) -> None:
    """Process the job queue: claim due jobs in batches and run them until stopped.

    SIGTERM or Ctrl-C stops claiming; the running job may finish within the grace period,
    else it is cancelled (a scrape stops its crawl process) and released back to the queue.
    """
    from pipeline_core.queue.worker import run_workers

    sys.exit(run_workers(concurrency, once, grace))


@click.group()
def queue() -> None:
    """Add, list, retry and process jobs of the queue (pipeline.queue)."""


@queue.command("add")
@click.argument("job_type", metavar="TYPE")
@click.option("--payload", default="{}", show_default=True, help="Job payload: a JSON object.")
@click.option("--dmo", help="DMO the job belongs to (PIPELINE_DMO_CONCURRENCY applies).")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher runs first.")
@click.option("--dedup-key", help="At most one queued job per key; a second one is not added.")
@click.option("--run-after", help="Not before: seconds from now, or an ISO 8601 time.")
def add(
    job_type: str,
    payload: str,
    dmo: str | None,
    priority: int,
    dedup_key: str | None,
    run_after: str | None,
) -> None:
    """Queue a job of a registered TYPE (see `dmo-pipeline plugins`)."""
    from pipeline_core.operations.queueing import UnknownJobType, enqueue_job
    from pipeline_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    if job_type not in pm.job_types():
        raise click.BadParameter(str(UnknownJobType.for_type(job_type, pm)), param_hint="TYPE")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object ({...})", param_hint="--payload")
    when = _run_after(run_after)
    job_id = enqueue_job(
        _engine(),
        pm,
        job_type,
        data,
        dmo=dmo,
        priority=priority,
        run_after=when,
        dedup_key=dedup_key,
    )
    if job_id is None:
        click.echo(f"not queued: a {job_type} job with dedup key {dedup_key!r} is already queued")
        return
    click.echo(f"queued job {job_id} ({job_type})")


@queue.command("process")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Most jobs to claim and run.",
)
def process(batch_size: int) -> None:
    """Process one batch of due jobs in this process, print the counts, and exit."""
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.worker import process_batch

    pm = get_plugin_manager()
    counts = process_batch(_engine(), pm, batch_size=batch_size)
    click.echo(counts.summary())


@queue.command("relay")
def relay() -> None:
    """Announce on SQS the jobs waiting in the outbox (pipeline.outbox), then exit.

    Workers relay the outbox themselves while PIPELINE_ENABLE_QUEUES=true; run this where
    jobs are queued but no worker runs (or from cron). Several relays at once are safe.
    """
    from pipeline_core.queue.relay import relay_pending
    from pipeline_core.queue.sqs import sqs_client

    settings = load_settings()
    if not settings.enable_queues:
        raise click.UsageError(
            "PIPELINE_ENABLE_QUEUES is false: jobs are not announced on SQS, nothing to relay"
        )
    counts = relay_pending(_engine(), sqs_client(settings), settings, max_rounds=None)
    click.echo(
        f"relayed {counts.sent} job announcement(s) to SQS; {counts.failed} refused (kept in "
        f"the outbox), {counts.dropped} dropped (their jobs were no longer queued)"
    )
    if counts.failed:
        sys.exit(1)


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S")


@queue.command("list")
@click.option(
    "--status",
    type=click.Choice(["queued", "running", "completed", "failed"]),
    help="Only jobs with this status.",
)
@click.option("--dead", is_flag=True, help="Only dead-lettered jobs.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most rows."
)
def list_(status: str | None, dead: bool, limit: int) -> None:
    """List jobs, newest first: id, type, status, attempts, run after, DMO, last error."""
    from pipeline_core.queue.store import list_jobs

    rows = list_jobs(_engine(), status=status, dead=dead, limit=limit)
    if not rows:
        click.echo("no jobs")
        return
    click.echo(
        f"{'id':>6}  {'type':<12} {'status':<10} {'tries':>5}  {'run after':<19}  {'dmo':<16} error"
    )
    for row in rows:
        state = row.status + ("*" if row.dead_lettered else "")
        error = (row.last_error or "").replace("\n", " ")
        click.echo(
            f"{row.id:>6}  {row.type:<12} {state:<10} {f'{row.attempts}/{row.max_attempts}':>5}  "
            f"{_when(row.run_after):<19}  {row.dmo or '-':<16} {error[:80]}"
        )
    if any(row.dead_lettered for row in rows):
        click.echo("* dead-lettered: `dmo-pipeline queue retry ID` queues it again")


list_.name = "list"


@queue.command("retry")
@click.argument("job_id", metavar="ID", type=int)
def retry(job_id: int) -> None:
    """Queue a failed (dead-lettered) job again, with a fresh budget of attempts."""
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.runner import max_attempts_of
    from pipeline_core.queue.store import retry_job

    pm = get_plugin_manager()
    engine = _engine()
    with engine.connect() as conn:
        job_type = conn.execute(
            sa.select(queue_table.c.type).where(queue_table.c.id == job_id)
        ).scalar()
    budget = max_attempts_of(pm.job_types(), job_type or "", pm.settings)
    row = retry_job(engine, job_id, pm.settings, max(1, budget))
    click.echo(
        f"job {row.id} ({row.type}) queued again: {row.max_attempts - row.attempts} more "
        f"attempt(s), up to attempt {row.max_attempts}"
    )
