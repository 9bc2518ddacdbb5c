"""The tables an operator reads after the fact: ``pipeline.errors`` and ``pipeline.crawls``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import crawls, errors


def list_errors(
    engine: sa.Engine,
    *,
    source: str | None = None,
    job_id: int | None = None,
    crawl_id: int | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    after: int | None = None,
    sources: Collection[str] | None = None,
    limit: int = 50,
) -> list[Any]:
    """Rows of ``pipeline.errors``, newest first, narrowed by source, job, crawl, stage, time
    (``since``), keyset (ids below ``after``) and a set of ``sources`` (a DMO's)."""
    query = sa.select(errors).order_by(errors.c.id.desc()).limit(limit)
    if source is not None:
        query = query.where(errors.c.source == source)
    if job_id is not None:
        query = query.where(errors.c.job_id == job_id)
    if crawl_id is not None:
        query = query.where(errors.c.crawl_id == crawl_id)
    if stage is not None:
        query = query.where(errors.c.stage == stage)
    if since is not None:
        query = query.where(errors.c.created_at >= since)
    if after is not None:
        query = query.where(errors.c.id < after)
    if sources is not None:
        query = query.where(errors.c.source.in_(sorted(sources)))
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def list_crawls(engine: sa.Engine, *, source: str | None = None, limit: int = 50) -> list[Any]:
    """Rows of ``pipeline.crawls``, newest first (of one source, when given)."""
    query = sa.select(crawls).order_by(crawls.c.id.desc()).limit(limit)
    if source is not None:
        query = query.where(crawls.c.source == source)
    with engine.connect() as conn:
        return list(conn.execute(query).all())
