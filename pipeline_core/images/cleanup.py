"""Deleting stored images no row uses any more (``dmo-pipeline images --delete-unused``).

Outputs are stored under keys named by their content and recipe and shared by every listing
whose image has that content, so a changed image or a dropped listing image leaves its old
objects behind. :func:`delete_unused` removes them:

1. ``pipeline.images`` rows whose URL no staging or production listing image uses any more,
   and that were not written for ``grace`` seconds, are deleted;
2. every object under ``images/`` in the storage whose key no row names (``original_key``
   or a variant's ``key`` of a staging or production listing image, of a ``pipeline.images``
   row, or of a listing image kept in a promotion's ``before`` snapshot, which a rollback
   puts back) and that was not written for ``grace`` seconds, is deleted.

The grace period keeps what an image job running at the same time has just stored but not
yet written its rows for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import images, production, promotion_changes, staging
from pipeline_core.storage import Storage

logger = logging.getLogger(__name__)

#: The folder of the storage the image job writes to.
PREFIX = "images"


@dataclass
class Cleanup:
    """What :func:`delete_unused` deleted (or, with ``dry_run``, would delete)."""

    url_rows: int = 0
    objects: int = 0
    bytes: int = 0
    #: Unused objects kept because they were written within the grace period.
    recent: int = 0
    keys: list[str] = field(default_factory=list, repr=False)


def _keys_of(original: str | None, variants: Any) -> Iterable[str]:
    if original:
        yield original
    if isinstance(variants, dict):
        for variant in variants.values():
            if isinstance(variant, dict) and isinstance(variant.get("key"), str):
                yield variant["key"]


def used_keys(conn: sa.Connection) -> set[str]:
    """Every storage key a row names (see the module's docstring)."""
    keys: set[str] = set()
    for table in (staging["listing_images"], production["listing_images"], images):
        query = sa.select(table.c.original_key, table.c.variants).where(
            table.c.original_key.is_not(None)
        )
        for original, variants in conn.execute(query):
            keys.update(_keys_of(original, variants))
    snapshots = sa.select(promotion_changes.c.before).where(promotion_changes.c.before.is_not(None))
    for before in conn.execute(snapshots).scalars():
        for row in (before or {}).get("listing_images") or ():
            keys.update(_keys_of(row.get("original_key"), row.get("variants")))
    return keys


def _unused_url_rows(conn: sa.Connection, before: datetime) -> list[int]:
    used = sa.union(
        sa.select(staging["listing_images"].c.url),
        sa.select(production["listing_images"].c.url),
    )
    query = sa.select(images.c.id).where(images.c.url.not_in(used), images.c.updated_at < before)
    return [int(i) for i in conn.execute(query).scalars()]


def delete_unused(
    engine: sa.Engine, storage: Storage, *, grace: float = 3600.0, dry_run: bool = False
) -> Cleanup:
    """Delete the ``pipeline.images`` rows and stored image objects nothing uses and nothing
    wrote for ``grace`` seconds; with ``dry_run`` only count them."""
    before = datetime.now(UTC) - timedelta(seconds=grace)
    done = Cleanup()
    with engine.connect() as conn, conn.begin() as transaction:
        ids = _unused_url_rows(conn, before)
        done.url_rows = len(ids)
        for start in range(0, len(ids), 500):
            conn.execute(sa.delete(images).where(images.c.id.in_(ids[start : start + 500])))
        used = used_keys(conn)  # without the rows just deleted
        if dry_run:
            transaction.rollback()
    for stored in storage.list(PREFIX):
        if stored.key in used:
            continue
        if stored.modified >= before:
            done.recent += 1
            continue
        done.keys.append(stored.key)
        done.objects += 1
        done.bytes += stored.size
    if not dry_run and done.keys:
        storage.delete(done.keys)
    logger.info(
        "unused images%s: %d URL rows, %d objects (%d bytes) deleted; %d newer than %g s kept",
        " (dry run)" if dry_run else "",
        done.url_rows,
        done.objects,
        done.bytes,
        done.recent,
        grace,
    )
    return done
