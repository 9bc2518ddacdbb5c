"""The queue's commands: ``dmo-pipeline worker`` and ``dmo-pipeline queue ...``."""

from __future__ import annotations

import re
import signal
import sys
import threading
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
    context = click.get_current_context(silent=True)
    if context is not None:  # its connections are closed when the command ends
        context.call_on_close(engine.dispose)
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
@click.option(
    "--dmo",
    help="DMO the job belongs to (default: its payload's source's; "
    "PIPELINE_DMO_CONCURRENCY applies).",
)
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
    """Queue a job of a registered TYPE (see `dmo-pipeline plugins`).

    Every option is checked before anything is written, the same way on SQLite and
    PostgreSQL, and a payload that can never work (a scrape of a source that does not
    exist, a transform of a file that is not there) is refused with one `Error:` line.
    """
    from pipeline_core.db.engine import write_transaction
    from pipeline_core.exceptions import InvalidJobError
    from pipeline_core.operations.audit import cli_actor, record
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.enqueue import add_job

    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    when = _run_after(run_after)
    pm = get_plugin_manager()
    engine = _engine()
    try:
        with write_transaction(engine) as conn:
            job_id = add_job(
                conn,
                pm.job_types(),
                job_type,
                data,
                settings=pm.settings,
                dmo=dmo,
                dedup_key=dedup_key,
                priority=priority,
                run_after=when,
                sources=pm.sources(),
            )
            if job_id is not None:
                after = {"type": job_type, "payload": data, "priority": priority}
                record(conn, cli_actor(), "job.queued", str(job_id), dmo=dmo, after=after)
    except InvalidJobError as exc:
        hint = "TYPE" if exc.option == "type" else "--" + exc.option.replace("_", "-")
        raise click.BadParameter(exc.problem, param_hint=hint) from None
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
    from pipeline_core.operations.audit import cli_actor, record_now
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.worker import process_batch

    pm = get_plugin_manager()
    engine = _engine()
    counts = process_batch(engine, pm, batch_size=batch_size)
    record_now(engine, cli_actor(), "queue.processed", None, after=counts.as_dict())
    click.echo(counts.summary())


@queue.command("relay")
@click.option(
    "--forever",
    is_flag=True,
    help="Keep relaying until SIGTERM or Ctrl-C (for a service manager), a round every "
    "PIPELINE_POLL_INTERVAL seconds.",
)
def relay(forever: bool) -> None:
    """Announce on SQS the jobs waiting in the outbox (pipeline.outbox), then exit.

    Workers relay the outbox themselves while PIPELINE_ENABLE_QUEUES=true; run this where
    jobs are queued but no worker runs (or from cron), or with --forever as a service.
    Several relays at once are safe.
    """
    from pipeline_core.queue.relay import relay_forever, relay_pending
    from pipeline_core.queue.sqs import sqs_client

    settings = load_settings()
    if not settings.enable_queues:
        raise click.UsageError(
            "PIPELINE_ENABLE_QUEUES is false: jobs are not announced on SQS, nothing to relay"
        )
    if forever:
        from pipeline_core.log_format import configure_logging

        configure_logging(settings.log_level, settings.log_format)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        counts = relay_forever(_engine(), sqs_client(settings), settings, stop)
    else:
        counts = relay_pending(_engine(), sqs_client(settings), settings, max_rounds=None)
    click.echo(
        f"relayed {counts.sent} job announcement(s) to SQS; {counts.failed} refused (kept in "
        f"the outbox), {counts.dropped} dropped (their jobs were no longer queued)"
    )
    if counts.failed and not forever:
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
@click.option("--type", "job_type", help="Only jobs of this type.")
@click.option("--source", help="Only jobs whose payload names this source.")
@click.option("--dmo", help="Only jobs of this DMO.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most rows."
)
def list_(
    status: str | None,
    dead: bool,
    job_type: str | None,
    source: str | None,
    dmo: str | None,
    limit: int,
) -> None:
    """List jobs, newest first: id, type, status, attempts, run after, DMO, last error (for
    a running job: its worker, start and lease); then the totals of every matching job."""
    from pipeline_core.operations.jobs import JobFilter, list_jobs

    found = list_jobs(
        _engine(),
        JobFilter(status=status, dead=dead, type=job_type, source=source, dmo=dmo),
        limit=limit,
    )
    rows = found.rows
    if not rows:
        click.echo("no jobs")
        return
    click.echo(
        f"{'id':>6}  {'type':<12} {'status':<10} {'tries':>5}  {'run after':<19}  {'dmo':<16} error"
    )
    for row in rows:
        state = row.status + ("*" if row.dead_lettered else "")
        error = (row.last_error or "").replace("\n", " ")
        if row.status == "running":
            error = (
                f"worker {row.lease_owner}, started {_when(row.updated_at)}, lease until "
                f"{_when(row.lease_expires_at)}"
            )
        click.echo(
            f"{row.id:>6}  {row.type:<12} {state:<10} {f'{row.attempts}/{row.max_attempts}':>5}  "
            f"{_when(row.run_after):<19}  {row.dmo or '-':<16} {error[:80]}"
        )
    if any(row.dead_lettered for row in rows):
        click.echo("* dead-lettered: `dmo-pipeline queue retry ID` queues it again")
    t = found.totals
    click.echo(
        f"{t['total']} job(s): {t['queued']} queued, {t['running']} running, {t['completed']} "
        f"completed, {t['failed']} failed ({t['dead']} dead-lettered)"
    )


list_.name = "list"


@queue.command("retry")
@click.argument("job_id", metavar="ID", type=int, required=False)
@click.option(
    "--again",
    is_flag=True,
    help="Run a finished job (completed or failed) again, as a new job with the same "
    "payload and correlation id.",
)
@click.option("--all-dead", is_flag=True, help="Queue again every dead-lettered job.")
@click.option("--source", help="With --all-dead: only the jobs of this source.")
def retry(job_id: int | None, again: bool, all_dead: bool, source: str | None) -> None:
    """Queue a failed (dead-lettered) job again, with a fresh budget of attempts.

    Its attempt count is kept (the history reads on), so a failure after the retry waits
    as long as the next attempt of the old count would (backoff doubles per attempt).
    """
    from pipeline_core.exceptions import QueueError
    from pipeline_core.operations.audit import cli_actor, record_now
    from pipeline_core.operations.jobs import retry_again, retry_all_dead
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.runner import max_attempts_of
    from pipeline_core.queue.store import retry_job

    if all_dead == (job_id is not None):
        raise click.UsageError("give a job ID, or --all-dead (not both)")
    if source is not None and not all_dead:
        raise click.UsageError("--source goes with --all-dead")
    pm = get_plugin_manager()
    engine = _engine()
    if all_dead:
        done = retry_all_dead(engine, pm.settings, max(1, pm.settings.max_retries), source)
        for queued in done.queued:
            record_now(engine, cli_actor(), "job.retried", str(queued), after={"all_dead": True})
        click.echo(
            f"queued again {len(done.queued)} dead-lettered job(s)"
            + (f": {', '.join(map(str, done.queued))}" if done.queued else "")
        )
        for refused, why in done.refused.items():
            click.echo(f"job {refused} not queued: {why}")
        return
    assert job_id is not None
    if again:
        try:
            new_id = retry_again(engine, job_id, pm.settings)
        except QueueError as exc:
            raise click.ClickException(str(exc)) from None
        if new_id is None:
            raise click.ClickException(
                f"job {job_id} not run again: a job with its dedup key is queued"
            )
        after = {"again": True, "new_job": new_id}
        record_now(engine, cli_actor(), "job.retried", str(job_id), after=after)
        click.echo(f"job {job_id} runs again as job {new_id}")
        return
    with engine.connect() as conn:
        job_type = conn.execute(
            sa.select(queue_table.c.type).where(queue_table.c.id == job_id)
        ).scalar()
    budget = max_attempts_of(pm.job_types(), job_type or "", pm.settings)
    row = retry_job(engine, job_id, pm.settings, max(1, budget))
    after = {"attempts": row.attempts, "max_attempts": row.max_attempts}
    record_now(engine, cli_actor(), "job.retried", str(job_id), dmo=row.dmo, after=after)
    click.echo(
        f"job {row.id} ({row.type}) queued again: {row.max_attempts - row.attempts} more "
        f"attempt(s), up to attempt {row.max_attempts}"
    )


@queue.command("show")
@click.argument("job_id", metavar="ID", type=int)
def show(job_id: int) -> None:
    """Show one job: payload, status, attempts with their durations and errors, the
    correlation id, the jobs queued after it in its chain (same correlation id), and the
    traceback of its last failed attempt."""
    from pipeline_core.exceptions import QueueError
    from pipeline_core.operations.jobs import job_detail

    try:
        detail = job_detail(_engine(), job_id)
    except QueueError as exc:
        raise click.ClickException(str(exc)) from None
    job = detail.job
    state = job.status + (" (dead-lettered)" if job.dead_lettered else "")
    click.echo(f"job {job.id} ({job.type}): {state}")
    click.echo(f"payload: {orjson.dumps(job.payload).decode()}")
    click.echo(
        f"dmo: {job.dmo or '-'}  priority: {job.priority}  dedup key: {job.dedup_key or '-'}"
    )
    click.echo(f"correlation id: {job.correlation_id or '-'}")
    click.echo(
        f"attempts: {job.attempts} of {job.max_attempts}; run after {_when(job.run_after)}; "
        f"created {_when(job.created_at)}; finished {_when(job.finished_at)}"
    )
    if job.status == "running":
        click.echo(
            f"running on {job.lease_owner} since {_when(job.updated_at)}, lease until "
            f"{_when(job.lease_expires_at)}"
        )
    for attempt in detail.attempts:
        line = (
            f"  attempt {attempt.attempt}: {attempt.status} on {attempt.worker}, "
            f"{_when(attempt.started_at)}, {attempt.duration_ms} ms"
        )
        if attempt.error:
            line += f": {attempt.error.splitlines()[0][:200]}"
        click.echo(line)
    click.echo(f"total run time: {detail.duration_ms} ms")
    if detail.next_jobs:
        click.echo("next jobs in its chain:")
        for following in detail.next_jobs:
            click.echo(f"  job {following.id} ({following.type}): {following.status}")
    for error in detail.errors:
        click.echo(f"error {error.id} [{error.stage}] {error.source or '-'}: {error.message[:300]}")
    tracebacks = [e.traceback for e in detail.errors if e.traceback]
    if tracebacks:
        click.echo("traceback of the last failed attempt:")
        click.echo(tracebacks[-1].rstrip())
