"""Helpers of the promotion, quality, isolation and export tests: stage a feed through the
real stages (map, validate, hash, stage-write, withdraw) and read production whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from feeds import write_mapping

from pipeline_core.config import load_settings
from pipeline_core.db.tables import CHILD_TABLES, production, staging
from pipeline_core.items import RawRecord
from pipeline_core.mapping import CompiledMapping, load_mapping_file
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.stages.session import StageSession


def crawl(
    engine: sa.Engine,
    folder: Path,
    records: list[dict[str, Any]],
    name: str = "plain",
    dmo: str = "test-dmo",
    extra: str = "",
) -> dict[str, Any]:
    """Stage ``records`` as one complete crawl of source ``name`` (of ``dmo``); listings of
    the source it does not hold are withdrawn."""
    path = write_mapping(folder / "mappings", name, "https://example.org/feed")
    text = path.read_text("utf-8").replace("dmo: test-dmo", f"dmo: {dmo}")
    path.write_text(text + extra, "utf-8")  # extra: more fields, then top-level keys
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    session = StageSession(
        engine, mapping, fetcher="json_api", origin=str(path), batch_size=50, hook=None
    )
    session.open()
    for payload in records:
        item = session.map(RawRecord(name, None, payload))
        if item is not None and session.validate(session.hash(item)):
            session.stage(item)
    return session.close("finished")


def mark_images_stored(engine: sa.Engine) -> None:
    """Every staged image row ``stored``, as an ``image`` job that fetched them all leaves
    them (for tests of scores, whose ``images`` rule counts only stored images)."""
    with engine.begin() as conn:
        conn.execute(sa.update(staging["listing_images"]).values(status="stored"))


def production_state(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every production listing table, all columns, ordered by id."""
    out = {}
    with engine.connect() as conn:
        for name in ("listings", *CHILD_TABLES):
            table = production[name]
            out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    return out


def listings(count: int) -> list[dict[str, Any]]:
    """Feed listings 1 to ``count`` (without the planted duplicate of ``feeds.feed``)."""
    from feeds import listing

    return [listing(n) for n in range(1, count + 1)]
