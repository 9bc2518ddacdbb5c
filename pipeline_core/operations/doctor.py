"""``dmo-pipeline doctor``: the checks of the troubleshooting list, each with what to fix.

Each check gives a :class:`Check`: its name, whether it passed, what it found and, when it
failed, what to do. Checks that need the database are skipped (failed, "needs the
database") when the database cannot be reached, so one cause gives one clear failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings, mask_url
from pipeline_core.db.tables import SCHEMA_REVISION, crawls
from pipeline_core.metrics.database import dead_letters, past_lease, queue_counts

#: A source is overdue when the latest slot of its scrape frequency passed this long ago and
#: no crawl of it started since.
OVERDUE_GRACE = timedelta(hours=1)
#: Seconds the doctor waits for PostgreSQL to answer.
CONNECT_TIMEOUT = 5
#: The key the storage check writes (and overwrites) to prove storage is writable.
PROBE_KEY = "doctor/write-check.txt"


@dataclass(frozen=True)
class Check:
    """One check's result."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _engine(settings: Settings) -> sa.Engine:
    from pipeline_core.db.engine import make_engine

    if settings.database_url.startswith("postgresql"):
        return make_engine(settings.database_url, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    return make_engine(settings.database_url)


def check_database(engine: sa.Engine, url: str) -> list[Check]:
    """The database answers, and its schema is the code's (Alembic head)."""
    from pipeline_core.db.engine import database_revision

    shown = mask_url(url)
    try:
        revision = database_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [
            Check(
                "database",
                False,
                f"cannot reach {shown}: {reason}",
                "start the database server, or point PIPELINE_DATABASE_URL at it (host, port, "
                "user and database name)",
            )
        ]
    reached = Check("database", True, f"{shown} answers")
    if revision == SCHEMA_REVISION:
        return [reached, Check("schema", True, f"migrated to the newest revision {revision}")]
    return [
        reached,
        Check(
            "schema",
            False,
            f"at revision {revision or 'none (never migrated)'}, the code needs {SCHEMA_REVISION}",
            "run `dmo-pipeline migrate`",
        ),
    ]


def check_queue_mode(settings: Settings) -> list[Check]:
    """``PIPELINE_ENABLE_QUEUES``: the database queue alone, or SQS reachable with a redrive
    policy (a dead-letter queue for messages received too often)."""
    if not settings.enable_queues:
        return [Check("queue mode", True, "database queue only (PIPELINE_ENABLE_QUEUES=false)")]
    from pipeline_core.queue.sqs import error_code, sqs_client

    url = mask_url(settings.jobs_queue_url or "")
    try:
        answer = sqs_client(settings).get_queue_attributes(
            QueueUrl=settings.jobs_queue_url, AttributeNames=["RedrivePolicy"]
        )
    except Exception as exc:
        return [
            Check(
                "queue mode",
                False,
                f"PIPELINE_ENABLE_QUEUES=true but SQS queue {url} cannot be read: "
                f"{error_code(exc)}: {exc}",
                "check PIPELINE_JOBS_QUEUE_URL, PIPELINE_SQS_ENDPOINT_URL and the AWS "
                "credentials (the queue must exist and allow sqs:GetQueueAttributes)",
            )
        ]
    reached = Check("queue mode", True, f"SQS queue {url} answers (PIPELINE_ENABLE_QUEUES=true)")
    policy = answer.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        return [
            reached,
            Check(
                "redrive policy",
                False,
                f"SQS queue {url} has no redrive policy: a message that keeps failing is "
                "received forever",
                "give the queue a dead-letter queue and a maxReceiveCount (RedrivePolicy; "
                "see docs/reference/sqs.md)",
            ),
        ]
    return [reached, Check("redrive policy", True, f"redrive policy {policy}")]


def check_storage(settings: Settings) -> Check:
    """A small file can be written to ``PIPELINE_STORAGE_URL``."""
    from pipeline_core.storage import get_storage

    where = mask_url(settings.storage_url)
    try:
        get_storage(settings).put_bytes(PROBE_KEY, b"dmo-pipeline doctor\n", "text/plain")
    except Exception as exc:
        return Check(
            "storage",
            False,
            f"cannot write to {where}: {type(exc).__name__}: {exc}",
            "make the folder writable by the user that runs dmo-pipeline (or, on S3, allow "
            "s3:PutObject on the bucket and check PIPELINE_S3_ENDPOINT_URL), or point "
            "PIPELINE_STORAGE_URL elsewhere",
        )
    return Check("storage", True, f"{where} is writable")


def check_plugins(settings: Settings) -> tuple[Check, Any]:
    """Plugins load, and every source they and the mapping files define is valid."""
    from pipeline_core.plugins import get_plugin_manager

    try:
        pm = get_plugin_manager(settings)
        sources = pm.sources()
    except Exception as exc:
        return (
            Check(
                "plugins",
                False,
                f"{type(exc).__name__}: {exc}",
                "fix or uninstall the plugin named, or block it with PIPELINE_DISABLE_PLUGINS",
            ),
            None,
        )
    broken = getattr(sources, "broken", {})
    if broken:
        names = "; ".join(f"{b.name} ({b.origin}): {b.error}" for b in broken.values())
        return (
            Check(
                "plugins",
                False,
                f"{len(broken)} source(s) left out: {names}",
                "fix the mapping or plugin named (`dmo-pipeline preview NAME` shows the error "
                "by field)",
            ),
            sources,
        )
    return Check("plugins", True, f"{len(pm.infos)} plugin(s), {len(sources)} source(s)"), sources


def check_leases(conn: sa.Connection) -> Check:
    """No job is still ``running`` past its lease."""
    stuck = past_lease(conn)
    if not stuck:
        return Check("leases", True, "no job is running past its lease")
    shown = ", ".join(f"job {r.id} ({r.type}, worker {r.lease_owner})" for r in stuck[:10])
    return Check(
        "leases",
        False,
        f"{len(stuck)} job(s) still running past their lease: {shown}",
        "start a worker (`dmo-pipeline worker`): it queues them again (or dead-letters "
        "those without attempts left); look for workers that died or hang",
    )


def check_dead_letters(conn: sa.Connection) -> Check:
    """No dead-lettered job waits."""
    dead = dead_letters(queue_counts(conn))
    if not dead:
        return Check("dead letters", True, "no dead-lettered job")
    shown = ", ".join(f"{count} {kind}" for kind, count in sorted(dead.items()))
    return Check(
        "dead letters",
        False,
        f"{sum(dead.values())} dead-lettered job(s) wait: {shown}",
        "read why with `dmo-pipeline queue list --dead` and `dmo-pipeline queue show ID`, fix "
        "the cause, then `dmo-pipeline queue retry ID` (or --all-dead)",
    )


def check_overdue(conn: sa.Connection, sources: Any, now: datetime) -> Check:
    """No source that was scraped before missed its latest scheduled slot (by more than
    :data:`OVERDUE_GRACE`). A source never scraped is not overdue: it has no last scrape."""
    from pipeline_core.frequency import as_utc, parse_frequency

    last = {
        name: as_utc(at)
        for name, at in conn.execute(
            sa.select(crawls.c.source, sa.func.max(crawls.c.started_at)).group_by(crawls.c.source)
        )
    }
    late = []
    for name in sorted(sources or {}):
        if name not in last:
            continue
        try:
            slot = parse_frequency(sources[name].scrape_frequency, now).latest_slot(now)
        except ValueError:
            continue
        if slot is not None and slot < now - OVERDUE_GRACE and last[name] < slot:
            late.append(
                f"{name} (last scrape {last[name]:%Y-%m-%d %H:%M}, due {slot:%Y-%m-%d %H:%M})"
            )
    if not late:
        return Check("schedule", True, "no source's scrape is overdue")
    return Check(
        "schedule",
        False,
        f"{len(late)} source(s) overdue: {', '.join(late)}",
        "run `dmo-pipeline scheduler` (it queues due scrapes) and a worker; "
        "`dmo-pipeline queue add scrape --payload '{\"source\": NAME}'` scrapes one now",
    )


def run_checks(settings: Settings, now: datetime | None = None) -> list[Check]:
    """Every check, in the order of the troubleshooting list."""
    now = now or datetime.now(UTC)
    engine = _engine(settings)
    try:
        found = check_database(engine, settings.database_url)
        reachable = found[0].ok
        found += check_queue_mode(settings)
        found.append(check_storage(settings))
        plugins, sources = check_plugins(settings) if reachable else (None, None)
        if plugins is not None:
            found.append(plugins)
        later: list[tuple[str, Callable[[sa.Connection], Check]]] = [
            ("leases", check_leases),
            ("dead letters", check_dead_letters),
            ("schedule", lambda conn: check_overdue(conn, sources, now)),
        ]
        if not reachable or not found[1].ok:
            why = "needs the database" if not reachable else "needs the schema migrated"
            if not reachable:
                found.append(Check("plugins", False, why, "fix the database first"))
            found += [Check(name, False, why, "fix the database first") for name, _ in later]
            return found
        with engine.connect() as conn:
            found += [check(conn) for _, check in later]
        return found
    finally:
        engine.dispose()


def exit_code(checks: list[Check]) -> int:
    """0 when every check passed, else 1."""
    return 0 if all(c.ok for c in checks) else 1
