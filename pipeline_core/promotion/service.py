"""Promote valid staging listings of one DMO into production, and roll a batch back.

A promotion is one transaction: it inserts new listings, updates those whose record hash
(or status) changed, and withdraws those a complete crawl no longer saw. Each is a row of
``production.promotion_changes`` with its field-level diff and the production rows as they
were before (``before``), which is what :func:`rollback` puts back. The batch row itself is
written first in a transaction of its own, so a promotion that fails leaves it ``failed``
with the reason while production stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.engine import SQLITE_BEGIN_OPTION, is_sqlite
from pipeline_core.db.tables import (
    CHILD_TABLES,
    production,
    promotion_batches,
    promotion_changes,
    staging,
)
from pipeline_core.exceptions import PromotionError, RollbackRefused
from pipeline_core.promotion.diff import record_diff
from pipeline_core.promotion.lock import lock_dmo
from pipeline_core.promotion.rows import delete_children, restore_many, snapshot, update_listings
from pipeline_core.quality.gate import QualityPolicy
from pipeline_core.stages.writer import child_rows

_CHUNK = 500
#: Listing columns copied from staging to production on insert and update.
_COPIED = (
    "source",
    "external_id",
    "dmo",
    "category",
    "status",
    "record_hash",
    "raw_hash",
    "record",
    "licence",
    "attribution",
    "crawl_id",
    "withdrawn_at",
)
ACTIONS = ("inserted", "updated", "withdrawn", "merged", "skipped")


@dataclass
class PromotionReport:
    """What a promotion or rollback did (or, for a dry run, would do)."""

    dmo: str
    batch_id: int | None
    kind: str = "promote"
    status: str = "completed"
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    #: One entry per listing acted on: source, external_id, staging_id, listing_id (in
    #: production), action, diff, reason (for skipped).
    changes: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: batch, DMO and counts."""
        what = "dry run" if self.dry_run else f"batch {self.batch_id}"
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.kind} {what} of DMO {self.dmo}: {self.status}; {counts}"


def _now() -> datetime:
    return datetime.now(UTC)


def _begin(engine: sa.Engine) -> sa.Connection:
    conn = engine.connect()
    if is_sqlite(engine):
        conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    return conn


def _open_batch(engine: sa.Engine, values: dict[str, Any]) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(promotion_batches).values(**values).returning(promotion_batches.c.id)
            ).scalar_one()
        )


def _fail_batch(engine: sa.Engine, batch_id: int, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(promotion_batches)
            .where(promotion_batches.c.id == batch_id)
            .values(status="failed", error=reason, finished_at=_now())
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.DBAPIError):
        return f"{type(exc.orig).__name__}: {str(exc.orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


def promote(
    engine: sa.Engine,
    dmo: str,
    *,
    source: str | None = None,
    ids: Sequence[int] | None = None,
    dry_run: bool = False,
    promoted_by: str | None = None,
    quality: QualityPolicy | None = None,
) -> PromotionReport:
    """Promote the staging listings of ``dmo`` (only ``source``'s, or only staging ``ids``,
    when given) into production as one numbered batch, and return what it did.

    Listings scoring below the quality minimum of their source or DMO are left out with the
    reason (action ``skipped``). With ``dry_run`` nothing is written, not even the batch.
    Raises :class:`PromotionBusy` when the DMO is being promoted already and
    :class:`PromotionError` (the batch marked ``failed`` with the reason) when a write fails.
    """
    requested = {"source": source, "ids": list(ids) if ids is not None else None}
    batch_id = None
    if not dry_run:
        batch_id = _open_batch(
            engine,
            {
                "dmo": dmo,
                "source": source,
                "kind": "promote",
                "status": "running",
                "requested": requested,
                "promoted_by": promoted_by,
                "started_at": _now(),
            },
        )
    report = PromotionReport(dmo, batch_id, dry_run=dry_run)
    try:
        with _begin(engine) as conn:
            transaction = conn.begin()
            try:
                lock_dmo(conn, dmo)
                _Promotion(conn, report, quality or QualityPolicy()).run(source, ids)
                if dry_run:
                    transaction.rollback()
                    return report
                conn.execute(
                    sa.update(promotion_batches)
                    .where(promotion_batches.c.id == batch_id)
                    .values(status="completed", counts=report.counts, finished_at=_now())
                )
                transaction.commit()
            except BaseException:
                transaction.rollback()
                raise
    except PromotionError as exc:
        if batch_id is not None:
            _fail_batch(engine, batch_id, str(exc))
        raise
    except Exception as exc:
        if batch_id is None:
            raise
        reason = _reason(exc)
        _fail_batch(engine, batch_id, reason)
        raise PromotionError(
            f"promotion batch {batch_id} of DMO {dmo!r} failed, production is unchanged: {reason}"
        ) from exc
    return report


class _Promotion:
    """The work of one promotion inside its transaction."""

    def __init__(self, conn: sa.Connection, report: PromotionReport, quality: QualityPolicy):
        self.conn = conn
        self.report = report
        self.quality = quality
        self.counts = dict.fromkeys((*ACTIONS, "unchanged"), 0)
        #: staging id → production id, of the listings this batch touched
        self.touched: dict[int, int] = {}
        #: change rows not written yet
        self.pending: list[dict[str, Any]] = []

    def run(self, source: str | None, ids: Sequence[int] | None) -> None:
        listings = staging["listings"]
        query = sa.select(listings).where(listings.c.dmo == self.report.dmo)
        if source is not None:
            query = query.where(listings.c.source == source)
        if ids is not None:
            query = query.where(listings.c.id.in_(list(ids)))
        rows = list(self.conn.execute(query.order_by(listings.c.id)))
        for start in range(0, len(rows), _CHUNK):
            self._chunk(rows[start : start + _CHUNK])
        self._point_duplicates()
        self.report.counts = {k: v for k, v in self.counts.items()}

    def _existing(self, rows: Sequence[Any]) -> dict[tuple[str, str], Any]:
        target = production["listings"]
        keys = {(r.source, r.external_id) for r in rows}
        # Both columns by IN (the unique index serves it), the pairs sorted out here: a list
        # of row values is planned as a scan on some servers.
        found = self.conn.execute(
            sa.select(target).where(
                target.c.source.in_(sorted({s for s, _ in keys})),
                target.c.external_id.in_(sorted({e for _, e in keys})),
            )
        )
        return {(r.source, r.external_id): r for r in found if (r.source, r.external_id) in keys}

    def _chunk(self, rows: Sequence[Any]) -> None:
        existing = self._existing(rows)
        scores = self.quality.scores(self.conn, rows)
        inserts: list[Any] = []
        updates: list[tuple[Any, Any]] = []
        withdrawals: list[tuple[Any, Any]] = []
        for row in rows:
            current = existing.get((row.source, row.external_id))
            if row.status == "withdrawn":
                if current is not None and current.status == "active":
                    withdrawals.append((row, current))
                else:
                    self.counts["unchanged"] += 1
                continue
            if current is not None and current.record_hash == row.record_hash:
                if current.status == "active":
                    self.counts["unchanged"] += 1
                    continue
            refusal = self.quality.refusal(row, scores.get(row.id))
            if refusal is not None:
                self._change(row, current.id if current else None, "skipped", reason=refusal)
                continue
            if current is None:
                inserts.append(row)
            else:
                updates.append((row, current))
        before = snapshot(self.conn, [c.id for _, c in updates + withdrawals])
        self._insert(inserts)
        self._update(updates, before)
        self._withdraw(withdrawals, before)
        self._flush()

    def _values(self, row: Any, now: datetime) -> dict[str, Any]:
        values = {name: row._mapping[name] for name in _COPIED}
        values["duplicate_of"] = None
        values["updated_at"] = now
        return values

    def _insert(self, rows: list[Any]) -> None:
        if not rows:
            return
        target = production["listings"]
        now = _now()
        returned = self.conn.execute(
            sa.insert(target).returning(target.c.id, sort_by_parameter_order=True),
            [self._values(row, now) | {"created_at": now} for row in rows],
        ).all()
        self._children([(row, new.id) for row, new in zip(rows, returned, strict=True)])
        for row, new in zip(rows, returned, strict=True):
            self._change(row, new.id, "inserted", diff=record_diff(None, row.record))

    def _update(self, pairs: list[tuple[Any, Any]], before: dict[int, Any]) -> None:
        if not pairs:
            return
        now = _now()
        update_listings(self.conn, [self._values(row, now) | {"id": c.id} for row, c in pairs])
        delete_children(self.conn, [current.id for _, current in pairs])
        self._children([(row, current.id) for row, current in pairs])
        for row, current in pairs:
            diff = record_diff(current.record, row.record)
            if current.status != row.status:
                diff["status"] = {"old": current.status, "new": row.status}
            self._change(row, current.id, "updated", diff=diff, before=before[current.id])

    def _withdraw(self, pairs: list[tuple[Any, Any]], before: dict[int, Any]) -> None:
        now = _now()
        values = [
            {
                "id": c.id,
                "status": "withdrawn",
                "withdrawn_at": r.withdrawn_at or now,
                "updated_at": now,
            }
            for r, c in pairs
        ]
        update_listings(self.conn, values)
        for row, current in pairs:
            diff = {"status": {"old": "active", "new": "withdrawn"}}
            self._change(row, current.id, "withdrawn", diff=diff, before=before[current.id])

    def _children(self, pairs: Iterable[tuple[Any, int]]) -> None:
        children: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILD_TABLES}
        for row, listing_id in pairs:
            for name, rows in child_rows(listing_id, row.record).items():
                children[name].extend(rows)
        for name in CHILD_TABLES:
            if children[name]:
                self.conn.execute(sa.insert(production[name]), children[name])

    def _change(
        self,
        row: Any,
        listing_id: int | None,
        action: str,
        *,
        diff: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        self.counts[action] += 1
        if listing_id is not None and action != "skipped":
            self.touched[row.id] = listing_id
        change = {
            "listing_id": listing_id,
            "staging_id": row.id,
            "source": row.source,
            "external_id": row.external_id,
            "action": action,
            "diff": diff,
            "reason": reason,
        }
        self.report.changes.append(change)
        if self.report.batch_id is not None:
            self.pending.append({"batch_id": self.report.batch_id, "before": before, **change})

    def _flush(self) -> None:
        """Write the change rows gathered so far (one statement per chunk)."""
        if self.pending:
            self.conn.execute(sa.insert(promotion_changes), self.pending)
            self.pending = []

    def _point_duplicates(self) -> None:
        """Point each listing this batch wrote at the production listing it duplicates:
        its staging ``duplicate_of`` (same record hash), or the other listing of a pair
        confirmed ``same`` (a merge: both keep their source and id)."""
        from pipeline_core.duplicates.store import confirmed_pairs

        if not self.touched:
            return
        source_listings = staging["listings"]
        target = production["listings"]
        wanted: dict[int, int] = {}
        rows = self.conn.execute(
            sa.select(source_listings.c.id, source_listings.c.duplicate_of).where(
                source_listings.c.id.in_(list(self.touched)),
                source_listings.c.duplicate_of.is_not(None),
            )
        ).all()
        for staging_id, original in rows:
            wanted[staging_id] = original
        merges: set[int] = set()
        for kept, merged in confirmed_pairs(self.conn, self.report.dmo, list(self.touched)):
            if merged not in wanted:
                wanted[merged] = kept
                merges.add(merged)
        if not wanted:
            return
        keys = self.conn.execute(
            sa.select(source_listings.c.id, target.c.id)
            .join(
                target,
                sa.and_(
                    target.c.source == source_listings.c.source,
                    target.c.external_id == source_listings.c.external_id,
                ),
            )
            .where(source_listings.c.id.in_(list(set(wanted.values()))))
        ).all()
        production_of = dict(keys)
        for staging_id, original in wanted.items():
            if staging_id in self.touched and original in production_of:
                self.counts["merged"] += staging_id in merges
                self.conn.execute(
                    sa.update(target)
                    .where(target.c.id == self.touched[staging_id])
                    .values(duplicate_of=production_of[original])
                )


def rollback(
    engine: sa.Engine, batch_id: int, *, promoted_by: str | None = None
) -> PromotionReport:
    """Put production back exactly as it was before promotion batch ``batch_id``, as a new
    batch of kind ``rollback``; the rolled-back batch becomes ``rolled_back``.

    Raises :class:`RollbackRefused` when the batch is not a completed promotion, or when
    later completed promotions touched the same listings (they are named: roll them back
    first), and :class:`PromotionBusy` when the DMO is being promoted.
    """
    with engine.connect() as conn:
        batch = conn.execute(
            sa.select(promotion_batches).where(promotion_batches.c.id == batch_id)
        ).first()
    if batch is None:
        raise RollbackRefused(f"there is no promotion batch {batch_id}")
    if batch.kind != "promote":
        raise RollbackRefused(
            f"batch {batch_id} is itself a rollback (of batch {batch.rollback_of}); promote "
            "again instead"
        )
    if batch.status == "rolled_back":
        raise RollbackRefused(
            f"batch {batch_id} was rolled back already, by batch {batch.rolled_back_by}"
        )
    if batch.status != "completed":
        raise RollbackRefused(f"batch {batch_id} is {batch.status}: it changed nothing to undo")
    new_id = _open_batch(
        engine,
        {
            "dmo": batch.dmo,
            "source": batch.source,
            "kind": "rollback",
            "status": "running",
            "rollback_of": batch_id,
            "promoted_by": promoted_by,
            "started_at": _now(),
        },
    )
    report = PromotionReport(batch.dmo, new_id, kind="rollback")
    try:
        with _begin(engine) as conn, conn.begin():
            lock_dmo(conn, batch.dmo)
            _undo(conn, batch, report)
            conn.execute(
                sa.update(promotion_batches)
                .where(promotion_batches.c.id == batch_id)
                .values(status="rolled_back", rolled_back_by=new_id)
            )
            conn.execute(
                sa.update(promotion_batches)
                .where(promotion_batches.c.id == new_id)
                .values(status="completed", counts=report.counts, finished_at=_now())
            )
    except RollbackRefused as exc:
        _fail_batch(engine, new_id, str(exc))
        raise
    except Exception as exc:
        reason = _reason(exc)
        _fail_batch(engine, new_id, reason)
        raise PromotionError(
            f"rollback batch {new_id} (of batch {batch_id}) failed, production is unchanged: "
            f"{reason}"
        ) from exc
    return report


def _undo(conn: sa.Connection, batch: Any, report: PromotionReport) -> None:
    changes = conn.execute(
        sa.select(promotion_changes)
        .where(
            promotion_changes.c.batch_id == batch.id,
            promotion_changes.c.action != "skipped",
            promotion_changes.c.listing_id.is_not(None),
        )
        .order_by(promotion_changes.c.id.desc())
    ).all()
    listing_ids = sorted({c.listing_id for c in changes})
    later = (
        conn.execute(
            sa.select(promotion_batches.c.id)
            .distinct()
            .join(promotion_changes, promotion_changes.c.batch_id == promotion_batches.c.id)
            .where(
                promotion_batches.c.dmo == batch.dmo,
                promotion_batches.c.id > batch.id,
                promotion_batches.c.kind == "promote",
                promotion_batches.c.status == "completed",
                promotion_changes.c.action != "skipped",
                promotion_changes.c.listing_id.in_(listing_ids),
            )
            .order_by(promotion_batches.c.id)
        )
        .scalars()
        .all()
    )
    if later:
        names = ", ".join(str(i) for i in later)
        raise RollbackRefused(
            f"batch {batch.id} cannot be rolled back: later batches touched the same listings "
            f"({names}); roll those back first, newest first"
        )
    counts = {"deleted": 0, "restored": 0}
    current = snapshot(conn, listing_ids)
    target = production["listings"]
    inserted = [c.listing_id for c in changes if c.action == "inserted"]
    for start in range(0, len(inserted), 500):
        chunk = inserted[start : start + 500]
        delete_children(conn, chunk)
        conn.execute(
            sa.update(target).where(target.c.duplicate_of.in_(chunk)).values(duplicate_of=None)
        )
        conn.execute(sa.delete(target).where(target.c.id.in_(chunk)))
    restore_many(conn, {c.listing_id: c.before for c in changes if c.action != "inserted"})
    rows = []
    for change in changes:
        action = "deleted" if change.action == "inserted" else "restored"
        counts[action] += 1
        entry = {
            "listing_id": change.listing_id,
            "staging_id": change.staging_id,
            "source": change.source,
            "external_id": change.external_id,
            "action": action,
            "diff": None,
            "reason": None,
        }
        report.changes.append(entry)
        rows.append(
            {"batch_id": report.batch_id, "before": current.get(change.listing_id), **entry}
        )
    if rows:
        conn.execute(sa.insert(promotion_changes), rows)
    report.counts = counts
