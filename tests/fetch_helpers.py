"""Helpers of the fetcher tests: write mappings, crawl them in one child process, read staging."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import run_cli

from pipeline_core.db.tables import crawls, errors, staging


def crawl(
    env: dict[str, str], folder: Path, mappings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Write ``mappings`` (source name → YAML) into ``folder`` and crawl them all."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in mappings.items():
        (folder / f"{name}.yaml").write_text(text, "utf-8")
    return run_cli(
        "crawl", *mappings, "--no-progress", env=dict(env, PIPELINE_SOURCES_PATH=str(folder))
    )


def staged(engine: sa.Engine, source: str) -> dict[str, dict[str, Any]]:
    """External id → staged record of ``source``."""
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(listings.c.external_id, listings.c.record).where(listings.c.source == source)
        ).all()
    return {ext: record for ext, record in rows}


def error_rows(engine: sa.Engine, source: str) -> list[dict[str, Any]]:
    """The ``pipeline.errors`` rows of ``source``, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(errors).where(errors.c.source == source).order_by(errors.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def crawl_state(engine: sa.Engine, source: str) -> tuple[bool, dict[str, Any]]:
    """(complete, stats) of the last crawl of ``source``."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(crawls.c.complete, crawls.c.stats)
            .where(crawls.c.source == source)
            .order_by(crawls.c.id.desc())
        ).first()
    assert row is not None, f"{source} was not crawled"
    return bool(row.complete), dict(row.stats)
