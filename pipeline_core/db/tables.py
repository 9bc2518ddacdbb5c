"""SQLAlchemy Core tables of the three schemas: ``pipeline``, ``staging`` and ``production``.

``staging`` and ``production`` hold the same listing tables (production adds the promotion
audit). On SQLite each schema is an attached database file, so table names stay the same
(``staging.listings``) on both backends. Alembic migrations in ``migrations/`` create exactly
these tables; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: The Alembic revision these tables correspond to (a test checks it is the newest one).
SCHEMA_REVISION = "0011"

PIPELINE = "pipeline"
STAGING = "staging"
PRODUCTION = "production"
SCHEMAS = (PIPELINE, STAGING, PRODUCTION)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: JSON column: JSONB on PostgreSQL, JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: Timestamps are stored with their time zone (UTC).
Timestamp = sa.DateTime(timezone=True)


def fit_text(column: sa.Column[str], value: str | None) -> str | None:
    """``value`` cut to the length of ``column`` (a ``String(n)``), ending with "…" when cut:
    for text that comes from outside (a job's payload) into a column of limited length,
    which PostgreSQL enforces and SQLite does not."""
    length = getattr(column.type, "length", None)
    if value is None or length is None or len(value) <= length:
        return value
    return value[: length - 1] + "…"


def _now() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


# ---------------------------------------------------------------- pipeline schema

dmos = sa.Table(
    "dmos",
    metadata,
    sa.Column("slug", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(300)),
    sa.Column("website", sa.String(500)),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("dmo", sa.String(100), nullable=False),
    sa.Column("fetcher", sa.String(50), nullable=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("last_crawl_id", sa.Integer),
    sa.Column("last_seen_at", Timestamp),
    sa.Column("last_complete_crawl_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)

configs = sa.Table(
    "configs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("dmo", sa.String(100), nullable=False),
    sa.Column("source_type", sa.String(50), nullable=False),
    sa.Column("base_url", sa.Text, nullable=False),
    sa.Column("scrape_config", JSONType, nullable=False),
    sa.Column("field_mappings", JSONType, nullable=False),
    sa.Column("scrape_frequency", sa.String(100), nullable=False, server_default="daily"),
    sa.Column("last_scrape_at", Timestamp),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("updated_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)

crawls = sa.Table(
    "crawls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(100), nullable=False, index=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.Column("finish_reason", sa.String(100)),
    sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("stats", JSONType),
    schema=PIPELINE,
)

queue = sa.Table(
    "queue",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="queued"),
    sa.Column("dead_lettered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_after", Timestamp, nullable=False, server_default=_now()),
    sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_at", Timestamp),
    sa.Column("heartbeat_at", Timestamp),
    sa.Column("correlation_id", sa.String(100)),
    sa.Column("dedup_key", sa.String(300)),
    sa.Column("dmo", sa.String(100)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("updated_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("finished_at", Timestamp),
    sa.CheckConstraint("status IN ('queued', 'running', 'completed', 'failed')", name="status"),
    sa.Index("ix_queue_claim", "status", "run_after", "priority"),
    sa.Index(
        "uq_queue_dedup_key_queued",
        "dedup_key",
        unique=True,
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    ),
    schema=PIPELINE,
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("queue_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)
"""Jobs written to the queue but not yet announced on SQS (transactional outbox)."""

schedule_slots = sa.Table(
    "schedule_slots",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("slot_at", Timestamp, primary_key=True),
    sa.Column("queue_id", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)
"""One row per scheduled scrape slot of a source: two schedulers enqueue a slot once."""

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "queue_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey(queue.c.id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(200)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("stats", JSONType),
    sa.Column("error", sa.Text),
    schema=PIPELINE,
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("source", sa.String(100)),
    sa.Column("dmo", sa.String(100)),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("correlation_id", sa.String(100)),
    sa.Column("at", Timestamp, nullable=False),
    #: Timings and the rest (``run_after``, ``duration_ms``, ``error``...), by state.
    sa.Column("detail", JSONType),
    sa.CheckConstraint(
        "state IN ('queued', 'running', 'completed', 'failed', 'dead_lettered')", name="state"
    ),
    sqlite_autoincrement=True,
    schema=PIPELINE,
)
"""One row per change of a job's state, written in the transaction that changes it: the
feed of ``/api/v1/pipeline/events`` (ids only grow; a client resumes after the last it saw)."""

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("source", sa.String(100), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("crawl_id", sa.Integer),
    sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    schema=PIPELINE,
)

errors = sa.Table(
    "errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("source", sa.String(100), nullable=False, index=True),
    sa.Column("external_id", sa.Text),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("field", sa.Text),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("crawl_id", sa.Integer),
    sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("traceback_digest", sa.String(64)),
    #: The traceback of a failed job attempt (stage ``job``), its last lines when long.
    sa.Column("traceback", sa.Text),
    schema=PIPELINE,
)


# ---------------------------------------------------------------- images (issue 12)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(100)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("format", sa.String(20)),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("content_hash", sa.String(64), index=True),
    sa.Column("spec", sa.String(64)),
    sa.Column("original_key", sa.Text),
    sa.Column("variants", JSONType),
    sa.Column("fetched_at", Timestamp),
    sa.Column("updated_at", Timestamp, nullable=False, server_default=_now()),
    sa.CheckConstraint("status IN ('stored', 'failed')", name="status"),
    schema=PIPELINE,
)
"""One row per image URL fetched: its validators (ETag, Last-Modified) for conditional
requests, and what was stored for its content (shared by every listing that uses the URL)."""


def image_columns() -> list[sa.Column]:
    """The processing columns of ``listing_images``: what the ``image`` job stored."""
    return [
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("error", sa.Text),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("original_key", sa.Text),
        sa.Column("variants", JSONType),
    ]


# ---------------------------------------------------------------- listing tables


def _listing_tables(schema: str) -> dict[str, sa.Table]:
    """The listing tables of one schema (staging or production); same shape in both, but
    for the warnings of staged listings."""
    listings = sa.Table(
        "listings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(300), nullable=False),
        sa.Column("dmo", sa.String(100), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("record_hash", sa.String(64), nullable=False, index=True),
        sa.Column("raw_hash", sa.String(64)),
        sa.Column("duplicate_of", sa.Integer, index=True),
        sa.Column("record", JSONType, nullable=False),
        sa.Column("licence", sa.String(200)),
        sa.Column("attribution", sa.Text),
        sa.Column("crawl_id", sa.Integer),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("withdrawn_at", Timestamp),
        # staging only: the listing's current warnings (values kept as published or left
        # out), replaced whenever the listing is staged again
        *([sa.Column("warnings", JSONType)] if schema == STAGING else []),
        sa.UniqueConstraint("source", "external_id"),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name="status"),
        schema=schema,
    )

    # Staging child rows are written only by the stage writer, which replaces them with
    # their listing; a foreign key there would cost a check per row on every COPY. In
    # production they are enforced.
    def fk() -> list[sa.ForeignKey]:
        return [] if schema == STAGING else [sa.ForeignKey(listings.c.id, ondelete="CASCADE")]

    def child(name: str, *columns: sa.Column, pk: bool = True) -> sa.Table:
        id_cols = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)] if pk else []
        return sa.Table(
            name,
            metadata,
            *id_cols,
            sa.Column("listing_id", sa.Integer, *fk(), nullable=False, index=True),
            *columns,
            schema=schema,
        )

    return {
        "listings": listings,
        "listing_info": child(
            "listing_info",
            sa.Column("language", sa.String(20), nullable=False),
            sa.Column("name", sa.Text),
            sa.Column("description", sa.Text),
            sa.Column("short_description", sa.Text),
        ),
        "locations": child(
            "locations",
            sa.Column("street", sa.Text),
            sa.Column("postal_code", sa.String(30)),
            sa.Column("locality", sa.String(200)),
            sa.Column("region", sa.String(200)),
            sa.Column("country", sa.String(2)),
            sa.Column("latitude", sa.Float),
            sa.Column("longitude", sa.Float),
        ),
        "contact_info": child(
            "contact_info",
            sa.Column("kind", sa.String(20), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
        ),
        "listing_images": child(
            "listing_images",
            sa.Column("position", sa.Integer, nullable=False),
            sa.Column("url", sa.Text, nullable=False),
            sa.Column("caption", sa.Text),
            sa.Column("credit", sa.Text),
            sa.Column("licence", sa.Text),
            *image_columns(),
        ),
        "attributes": child(
            "attributes",
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("value", sa.Text),
        ),
        "opening_hours": child(
            "opening_hours",
            sa.Column("weekday", sa.SmallInteger, nullable=False),
            sa.Column("opens", sa.String(5)),
            sa.Column("closes", sa.String(5)),
            sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("valid_from", sa.Date),
            sa.Column("valid_to", sa.Date),
        ),
        "opening_dates": child(
            "opening_dates",
            sa.Column("date", sa.Date, nullable=False),
            sa.Column("end_date", sa.Date),
            sa.Column("opens", sa.String(5)),
            sa.Column("closes", sa.String(5)),
            sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("note", sa.Text),
        ),
    }


staging = _listing_tables(STAGING)
production = _listing_tables(PRODUCTION)

#: Child tables in write order (after ``listings``).
CHILD_TABLES = (
    "listing_info",
    "locations",
    "contact_info",
    "listing_images",
    "attributes",
    "opening_hours",
    "opening_dates",
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.Column("promoted_by", sa.String(200)),
    sa.Column("source", sa.String(100)),
    sa.Column("listing_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reverted_at", Timestamp),
    sa.Column("snapshot", JSONType),
    schema=PRODUCTION,
)


# ---------------------------------------------------------------- API (migration 0006)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("prefix", sa.String(20), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("dmo", sa.String(100)),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("expires_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
    sa.Column("last_used_at", Timestamp),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),
    schema=PIPELINE,
)
"""API keys: only the SHA-256 of each key is kept (the key is shown once, when created)."""

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("config", sa.String(100), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("updated_at", Timestamp, nullable=False, server_default=_now()),
    sa.UniqueConstraint("config", "name"),
    schema=PIPELINE,
)
"""Credentials of stored configs (``${credential:NAME}``), encrypted with PIPELINE_SECRET_KEY."""


# ---------------------------------------------------------------- promotion, quality, duplicates

promotion_batches = sa.Table(
    "promotion_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dmo", sa.String(100), nullable=False, index=True),
    sa.Column("source", sa.String(100)),
    sa.Column("kind", sa.String(20), nullable=False, server_default="promote"),
    sa.Column("status", sa.String(20), nullable=False, server_default="running"),
    sa.Column("requested", JSONType),
    sa.Column("counts", JSONType),
    sa.Column("error", sa.Text),
    sa.Column("rollback_of", sa.Integer),
    sa.Column("rolled_back_by", sa.Integer),
    sa.Column("promoted_by", sa.String(200)),
    sa.Column("started_at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("finished_at", Timestamp),
    sa.CheckConstraint("kind IN ('promote', 'rollback')", name="kind"),
    sa.CheckConstraint(
        "status IN ('running', 'completed', 'failed', 'rolled_back')", name="status"
    ),
    schema=PRODUCTION,
)
"""One promotion or rollback of one DMO: its counts, status and (when failed) the reason."""

promotion_changes = sa.Table(
    "promotion_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, nullable=False, index=True),
    sa.Column("listing_id", sa.Integer, index=True),
    sa.Column("staging_id", sa.Integer),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("external_id", sa.String(300), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("diff", JSONType),
    sa.Column("before", JSONType),
    sa.Column("reason", sa.Text),
    schema=PRODUCTION,
)
"""Per listing of a batch: what was done, the field-level diff and the rows as they were."""

listing_quality = sa.Table(
    "listing_quality",
    metadata,
    sa.Column("listing_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.String(100), nullable=False, index=True),
    sa.Column("dmo", sa.String(100), nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("breakdown", JSONType, nullable=False),
    sa.Column("scored_at", Timestamp, nullable=False),
    schema=STAGING,
)
"""The quality score (0-100) of each staging listing and its rule breakdown."""

duplicate_candidates = sa.Table(
    "duplicate_candidates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dmo", sa.String(100), nullable=False, index=True),
    sa.Column("listing_a", sa.Integer, nullable=False),
    sa.Column("listing_b", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("evidence", JSONType, nullable=False),
    sa.Column("found_at", Timestamp, nullable=False),
    sa.UniqueConstraint("listing_a", "listing_b"),
    schema=STAGING,
)
"""Likely duplicates across sources: a pair of staging listings, its score and evidence."""

duplicate_decisions = sa.Table(
    "duplicate_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dmo", sa.String(100), nullable=False, index=True),
    sa.Column("source_a", sa.String(100), nullable=False),
    sa.Column("external_id_a", sa.String(300), nullable=False),
    sa.Column("source_b", sa.String(100), nullable=False),
    sa.Column("external_id_b", sa.String(300), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", Timestamp, nullable=False),
    sa.UniqueConstraint(
        "source_a", "external_id_a", "source_b", "external_id_b", name="uq_duplicate_decisions_pair"
    ),
    sa.CheckConstraint("decision IN ('same', 'different')", name="decision"),
    schema=STAGING,
)
"""A person's decision on a pair (by source and external id, so it outlives re-staging)."""


# ---------------------------------------------------------------- audit trail (migration 0011)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False, server_default=_now()),
    sa.Column("key_id", sa.Integer),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("address", sa.String(200)),
    sa.Column("action", sa.String(50), nullable=False, index=True),
    sa.Column("target", sa.String(300)),
    sa.Column("dmo", sa.String(100), index=True),
    sa.Column("before", JSONType),
    sa.Column("after", JSONType),
    schema=PIPELINE,
)
"""Every change a person or key made: who (key id and name, or the command-line user), what
(``action`` on ``target``, the state ``before`` and ``after``, credentials left out), when and
from which address. Rows are only ever inserted (a trigger refuses UPDATE and DELETE)."""
