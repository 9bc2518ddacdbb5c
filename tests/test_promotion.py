"""Promotion from staging to production: batches, diffs, withdrawals, rollback, failures."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run_cli
from feeds import feed
from promotion_kit import crawl, listings, mark_images_stored, production_state

from pipeline_core.db.tables import production, promotion_batches, promotion_changes
from pipeline_core.exceptions import PromotionBusy, PromotionError, RollbackRefused
from pipeline_core.promotion import promote, rollback
from pipeline_core.promotion.lock import lock_dmo
from pipeline_core.quality.gate import QualityPolicy


def _batches(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(
                    promotion_batches.c.id,
                    promotion_batches.c.kind,
                    promotion_batches.c.status,
                    promotion_batches.c.rollback_of,
                    promotion_batches.c.rolled_back_by,
                ).order_by(promotion_batches.c.id)
            )
        ]


def _changed_feed() -> list[dict[str, object]]:
    records = copy.deepcopy(feed(10))
    records[0]["names"] = {"en": "Listing one, renamed"}  # L00001: name changed
    records[1]["phone"] = "+43 512 999999"  # L00002: phone changed (a child row)
    del records[2]  # L00003: gone from the feed, withdrawn
    records.append({**feed(11)[10]})  # L00011: new
    return records


def test_rolling_back_the_second_batch_restores_production_row_for_row(
    engine: sa.Engine, tmp_path: Path
) -> None:
    crawl(engine, tmp_path, feed(10))
    first = promote(engine, "test-dmo", promoted_by="tester")
    assert first.batch_id == 1
    assert first.counts == {
        "inserted": 10,
        "updated": 0,
        "withdrawn": 0,
        "merged": 0,
        "skipped": 0,
        "unchanged": 0,
    }
    after_first = production_state(engine)
    assert len(after_first["listings"]) == 10
    # L00007 repeats L00006's content: it points at it in production too
    by_external = {row[2]: row for row in after_first["listings"]}
    assert by_external["L00007"][8] == by_external["L00006"][0]

    stats = crawl(engine, tmp_path, _changed_feed())
    assert stats["withdrawn"] == 1
    second = promote(engine, "test-dmo")
    assert (second.batch_id, second.counts["inserted"], second.counts["updated"]) == (2, 1, 2)
    assert (second.counts["withdrawn"], second.counts["unchanged"]) == (1, 7)
    diffs = {c["external_id"]: c["diff"] for c in second.changes}
    assert diffs["L00001"] == {"name.en": {"old": "Listing 1", "new": "Listing one, renamed"}}
    assert diffs["L00002"] == {"contact.phone": {"old": "+43 512 000002", "new": "+43 512 999999"}}
    assert diffs["L00003"] == {"status": {"old": "active", "new": "withdrawn"}}
    after_second = production_state(engine)
    assert after_second != after_first
    assert len(after_second["listings"]) == 11

    undone = rollback(engine, 2, promoted_by="tester")
    assert undone.batch_id == 3
    assert undone.counts == {"deleted": 1, "restored": 3}
    assert production_state(engine) == after_first
    assert _batches(engine) == [
        (1, "promote", "completed", None, None),
        (2, "promote", "rolled_back", None, 3),
        (3, "rollback", "completed", 2, None),
    ]
    with pytest.raises(RollbackRefused, match="rolled back already, by batch 3"):
        rollback(engine, 2)
    with pytest.raises(RollbackRefused, match="is itself a rollback"):
        rollback(engine, 3)

    # Promoting again does the second batch's work again.
    again = promote(engine, "test-dmo")
    assert (again.counts["inserted"], again.counts["updated"], again.counts["withdrawn"]) == (
        1,
        2,
        1,
    )


def test_a_batch_is_not_rolled_back_under_a_later_one_that_touched_its_listings(
    engine: sa.Engine, tmp_path: Path
) -> None:
    crawl(engine, tmp_path, feed(10))
    promote(engine, "test-dmo")
    crawl(engine, tmp_path, _changed_feed())
    promote(engine, "test-dmo")
    with pytest.raises(RollbackRefused, match=r"later batches touched the same listings \(2\)"):
        rollback(engine, 1)
    # The refused rollback is audited as a failed batch with the reason.
    with engine.connect() as conn:
        failed = conn.execute(
            sa.select(promotion_batches.c.status, promotion_batches.c.error).where(
                promotion_batches.c.id == 3
            )
        ).one()
    assert failed.status == "failed"
    assert "later batches touched the same listings (2)" in failed.error
    rollback(engine, 2)
    rollback(engine, 1)
    assert production_state(engine) == {name: [] for name in production_state(engine)}


def _refuse_attribute(engine: sa.Engine, value: str) -> None:
    """A constraint of the production attributes table that ``value`` violates."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "ALTER TABLE production.attributes ADD CONSTRAINT no_forbidden "
                f"CHECK (value <> '{value}')"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER production.no_forbidden BEFORE INSERT ON attributes "
                f"WHEN NEW.value = '{value}' BEGIN SELECT RAISE(ABORT, 'no_forbidden'); END"
            )


def test_a_promotion_failing_in_a_child_table_leaves_production_untouched(
    engine: sa.Engine, tmp_path: Path
) -> None:
    crawl(engine, tmp_path, feed(10))
    promote(engine, "test-dmo")
    before = production_state(engine)
    records = copy.deepcopy(feed(10))
    records[0]["names"] = {"en": "Renamed"}
    records[8]["tags"] = "forbidden"  # L00009's attributes break the constraint
    crawl(engine, tmp_path, records)
    _refuse_attribute(engine, "forbidden")

    with pytest.raises(PromotionError, match="promotion batch 2 of DMO 'test-dmo' failed"):
        promote(engine, "test-dmo")
    assert production_state(engine) == before
    with engine.connect() as conn:
        batch = conn.execute(sa.select(promotion_batches).where(promotion_batches.c.id == 2)).one()
        changes = conn.execute(
            sa.select(sa.func.count()).where(promotion_changes.c.batch_id == 2)
        ).scalar()
    assert batch.status == "failed"
    assert "no_forbidden" in batch.error
    assert batch.finished_at is not None
    assert changes == 0


def test_a_dry_run_reports_and_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    crawl(engine, tmp_path, listings(4))
    report = promote(engine, "test-dmo", dry_run=True)
    assert report.batch_id is None
    assert report.counts["inserted"] == 4
    assert sorted(c["external_id"] for c in report.changes) == [
        "L00001",
        "L00002",
        "L00003",
        "L00004",
    ]
    assert production_state(engine)["listings"] == []
    assert _batches(engine) == []


def test_source_and_ids_narrow_a_promotion(engine: sa.Engine, tmp_path: Path) -> None:
    crawl(engine, tmp_path, listings(4))
    crawl(engine, tmp_path, listings(2), name="other")
    report = promote(engine, "test-dmo", source="other")
    assert report.counts["inserted"] == 2
    report = promote(engine, "test-dmo", ids=[1, 2])
    assert report.counts["inserted"] == 2
    with engine.connect() as conn:
        promoted = conn.execute(
            sa.select(
                production["listings"].c.source, production["listings"].c.external_id
            ).order_by(production["listings"].c.id)
        ).all()
    assert [tuple(r) for r in promoted] == [
        ("other", "L00001"),
        ("other", "L00002"),
        ("plain", "L00001"),
        ("plain", "L00002"),
    ]


def test_listings_below_the_quality_minimum_stay_out_with_the_reason(
    engine: sa.Engine, tmp_path: Path
) -> None:
    records = listings(4)
    records[2]["photos"] = []
    crawl(engine, tmp_path, records)
    mark_images_stored(engine)  # scores: 71, 75, 72, 85
    policy = QualityPolicy(default=0, per_dmo={"test-dmo": 101}, per_source={"plain": 73})
    report = promote(engine, "test-dmo", quality=policy)
    assert (report.counts["inserted"], report.counts["skipped"]) == (2, 2)
    skipped = {c["external_id"]: c["reason"] for c in report.changes if c["action"] == "skipped"}
    assert skipped == {
        "L00001": "quality 71 is below the minimum 73 of source plain: hours 0/10 (no hours); "
        "description 0/10 (32 characters); languages 0/5 (one language)",
        "L00003": "quality 72 is below the minimum 73 of source plain: images 0/10 (no image); "
        "description 0/10 (32 characters); recommended 12/20 (missing: url, images)",
    }
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(promotion_changes.c.external_id, promotion_changes.c.reason)
            .where(promotion_changes.c.action == "skipped")
            .order_by(promotion_changes.c.external_id)
        ).all()
    assert dict(stored) == skipped
    # The DMO's own minimum applies to a source without one: nothing goes.
    crawl(engine, tmp_path, listings(2), name="other")
    report = promote(engine, "test-dmo", source="other", quality=policy)
    assert (report.counts["inserted"], report.counts["skipped"]) == (0, 2)


@pytest.fixture
def pg_engine(engine: sa.Engine) -> sa.Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("the DMO lock is PostgreSQL's advisory lock (SQLite: one writer)")
    return engine


def test_a_dmo_being_promoted_refuses_a_second_promotion(
    pg_engine: sa.Engine, tmp_path: Path
) -> None:
    crawl(pg_engine, tmp_path, listings(3))
    with pg_engine.connect() as holder, holder.begin():
        lock_dmo(holder, "test-dmo")
        with pytest.raises(PromotionBusy, match="another promotion or rollback of DMO"):
            promote(pg_engine, "test-dmo")
        promote(pg_engine, "other-dmo")  # another DMO is not held up
    assert _batches(pg_engine)[0][2] == "failed"
    assert promote(pg_engine, "test-dmo").counts["inserted"] == 3


def test_the_promote_command(
    db_url: str, engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    crawl(engine, tmp_path, listings(3))
    dry = run_cli("promote", "--dmo", "test-dmo", "--dry-run", env=pipeline_env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run of DMO test-dmo" in dry.stdout
    assert "inserted 3" in dry.stdout
    done = run_cli("promote", "--source", "plain", "--diff", env=pipeline_env)
    assert done.returncode == 0, done.stderr
    assert "promote batch 1 of DMO test-dmo: completed; inserted 3" in done.stdout
    assert "plain/L00001 inserted" in done.stdout
    back = run_cli("promote", "--rollback", "1", env=pipeline_env)
    assert back.returncode == 0, back.stderr
    assert "rollback batch 2 of DMO test-dmo: completed; deleted 3, restored 0" in back.stdout
    again = run_cli("promote", "--rollback", "1", env=pipeline_env)
    assert again.returncode == 1
    assert "rolled back already, by batch 2" in again.stderr


def test_the_promote_job_type_runs_in_the_worker(
    engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    from pipeline_core.config import load_settings
    from pipeline_core.db.tables import queue
    from pipeline_core.queue import enqueue

    crawl(engine, tmp_path, listings(3))
    with engine.begin() as conn:
        job_id = enqueue(conn, "promote", {"dmo": "test-dmo"}, settings=load_settings(pipeline_env))
    ran = run_cli("worker", "--once", env=pipeline_env)
    assert ran.returncode == 0, ran.stderr
    with engine.connect() as conn:
        status = conn.execute(sa.select(queue.c.status).where(queue.c.id == job_id)).scalar()
    assert status == "completed"
    assert len(production_state(engine)["listings"]) == 3
    assert _batches(engine) == [(1, "promote", "completed", None, None)]
