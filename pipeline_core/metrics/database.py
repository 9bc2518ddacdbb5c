"""Metrics read from the database at each scrape: queue depth by state and type, dead
letters, jobs running past their lease, and sources whose scrapes failed in a row. They are
right whichever process changed the rows. The queries are also the doctor's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import jobs, queue

#: Job attempts (newest first) looked at to find each source's failures in a row.
RECENT_SCRAPES = 2000


def queue_counts(conn: sa.Connection, *where: Any) -> list[tuple[str, str, bool, int]]:
    """(type, state, dead-lettered, jobs) of ``pipeline.queue``, grouped; ``where``: the
    conditions of the jobs counted (a DMO's, say). One query for the depth and the dead
    letters below, and for the dashboard's depth."""
    query = (
        sa.select(queue.c.type, queue.c.status, queue.c.dead_lettered, sa.func.count())
        .where(*where)
        .group_by(queue.c.type, queue.c.status, queue.c.dead_lettered)
    )
    return [(kind, status, bool(dead), count) for kind, status, dead, count in conn.execute(query)]


def queue_depth(counts: list[tuple[str, str, bool, int]]) -> dict[tuple[str, str], int]:
    """(state, type) → jobs of the queue in that state (dead letters are ``failed``), from
    :func:`queue_counts`."""
    depth: dict[tuple[str, str], int] = {}
    for kind, status, _, count in counts:
        depth[status, kind] = depth.get((status, kind), 0) + count
    return depth


def dead_letters(counts: list[tuple[str, str, bool, int]]) -> dict[str, int]:
    """Job type → dead-lettered jobs waiting for a retry, from :func:`queue_counts`."""
    dead: dict[str, int] = {}
    for kind, status, lettered, count in counts:
        if lettered and status == "failed":
            dead[kind] = dead.get(kind, 0) + count
    return dead


def past_lease(conn: sa.Connection) -> list[Any]:
    """Jobs ``running`` whose lease expired (their worker died or hangs): id, type, owner,
    lease end; oldest first."""
    now = datetime.now(UTC)  # this process's clock on both backends, as workers' leases are
    query = (
        sa.select(queue.c.id, queue.c.type, queue.c.lease_owner, queue.c.lease_expires_at)
        .where(queue.c.status == "running", queue.c.lease_expires_at < now)
        .order_by(queue.c.id)
    )
    return list(conn.execute(query).all())


def failures_in_a_row(conn: sa.Connection) -> dict[str, int]:
    """Source → how many of its latest scrape attempts failed in a row (0: the latest
    worked), over the newest :data:`RECENT_SCRAPES` scrape attempts."""
    source = queue.c.payload["source"].as_string()
    query = (
        sa.select(source, jobs.c.status)
        .join(queue, queue.c.id == jobs.c.queue_id)
        .where(queue.c.type == "scrape")
        .order_by(jobs.c.id.desc())
        .limit(RECENT_SCRAPES)
    )
    found: dict[str, int] = {}
    ended: set[str] = set()
    for name, status in conn.execute(query):
        if name is None or name in ended:
            continue
        if status == "completed":
            ended.add(name)
            found.setdefault(name, 0)
        else:
            found[name] = found.get(name, 0) + 1
    return found


class DatabaseCollector:
    """A prometheus-client collector that reads the gauges above from the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        with self.engine.connect() as conn:
            counts = queue_counts(conn)
            depth, dead = queue_depth(counts), dead_letters(counts)
            stuck = past_lease(conn)
            failing = failures_in_a_row(conn)
        family = GaugeMetricFamily(
            "dmo_pipeline_queue_jobs",
            "Jobs in pipeline.queue by state (queued, running, completed, failed) and type.",
            labels=["state", "type"],
        )
        for (state, kind), count in sorted(depth.items()):
            family.add_metric([state, kind], count)
        yield family
        family = GaugeMetricFamily(
            "dmo_pipeline_dead_letters",
            "Dead-lettered jobs waiting for a retry, by type.",
            labels=["type"],
        )
        for kind, count in sorted(dead.items()):
            family.add_metric([kind], count)
        yield family
        yield GaugeMetricFamily(
            "dmo_pipeline_jobs_past_lease",
            "Jobs still running past their lease (their worker died or hangs).",
            value=len(stuck),
        )
        family = GaugeMetricFamily(
            "dmo_pipeline_source_failures_in_a_row",
            "How many of each source's latest scrape attempts failed in a row.",
            labels=["source"],
        )
        for name, count in sorted(failing.items()):
            family.add_metric([name], count)
        yield family
