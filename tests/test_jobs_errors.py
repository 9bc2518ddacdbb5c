"""The ``pipeline.errors`` rows of the built-in jobs, run one at a time by the worker's
``process_batch``: a failed ``transform`` or ``ingest`` names its source (its payload names
only a file), and the record and field where the failure has them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from feeds import feed, write_mapping
from jobs_kit import job_settings

from pipeline_core.config import Settings
from pipeline_core.db.tables import errors, files, queue, staging
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue import enqueue
from pipeline_core.queue.store import claim, rescue_expired
from pipeline_core.queue.worker import process_batch
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "errors-feed"


def _settings(db_url: str, tmp_path: Path, url: str) -> Settings:
    write_mapping(tmp_path / "mappings", SOURCE, url)
    return job_settings(
        db_url,
        str(tmp_path / "files"),
        PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
        PIPELINE_DMO_CONCURRENCY="0",
    )


def _scraped(db_url: str, engine: sa.Engine, tmp_path: Path, url: str) -> Settings:
    """The source's settings, after a ``scrape`` job of ``url`` completed (its ``transform``
    is queued)."""
    settings = _settings(db_url, tmp_path, url)
    with engine.begin() as conn:
        enqueue(conn, "scrape", {"source": SOURCE}, settings=settings)
    assert _run_next(engine, settings, "scrape")["status"] == "completed"
    return settings


def _run_next(engine: sa.Engine, settings: Settings, job_type: str) -> dict[str, Any]:
    """Run the one due job, which must be of ``job_type``, through the worker's
    ``process_batch``; return its queue row afterwards."""
    with engine.connect() as conn:
        job_id = conn.execute(sa.select(queue.c.id).where(queue.c.status == "queued")).scalar_one()
        assert conn.execute(sa.select(queue.c.type).where(queue.c.id == job_id)).scalar() == (
            job_type
        )
    counts = process_batch(engine, get_plugin_manager(settings), batch_size=1)
    assert counts.claimed == 1
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(queue).where(queue.c.id == job_id)).mappings().one())


def _error_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(
                    errors.c.source,
                    errors.c.external_id,
                    errors.c.field,
                    errors.c.stage,
                    errors.c.job_id,
                    errors.c.message,
                ).order_by(errors.c.id)
            )
        ]


def test_a_transform_that_fails_on_a_bad_record_names_its_source_record_and_field(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer(paginate_json(feed(8), per_page=8)) as server:
        settings = _scraped(db_url, engine, tmp_path, server.url("/listings?page=1"))
    with engine.connect() as conn:
        raw_id, raw_url = conn.execute(sa.select(files.c.id, files.c.url)).one()
    path = Path(raw_url.removeprefix("file://"))
    lines = path.read_bytes().splitlines(keepends=True)
    bad = orjson.loads(lines[2])  # the third record lost its payload
    del bad["payload"]
    path.write_bytes(b"".join([*lines[:2], orjson.dumps(bad) + b"\n", *lines[3:]]))

    transform = _run_next(engine, settings, "transform")
    assert (transform["status"], transform["attempts"]) == ("queued", 1)  # to be retried
    ((source, external_id, field, stage, job_id, message),) = _error_rows(engine)
    assert (source, external_id, field, stage, job_id) == (
        SOURCE,
        "L00003",
        "payload",
        "job",
        transform["id"],
    )
    assert message == (
        f"transform job {transform['id']}, attempt 1 of 5: JobError: transform of file "
        f'{raw_id} ({SOURCE}): line 3 of {raw_url} is not an archived record: it has no "payload"'
    )


def test_a_transform_keeps_every_error_row_past_a_batch_of_them(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    # More invalid records than a batch: the transform holds its error rows and writes
    # them at the end (in place of an earlier attempt's), so none is written early and
    # then deleted as an earlier attempt's.
    records = feed(530)
    for record in records[:510]:
        record["lat"] = 123.5
    with FeedServer(paginate_json(records, per_page=600)) as server:
        settings = _scraped(db_url, engine, tmp_path, server.url("/listings?page=1"))
    transform = _run_next(engine, settings, "transform")
    assert transform["status"] == "completed"
    with engine.connect() as conn:
        stages = conn.execute(
            sa.select(errors.c.stage, sa.func.count()).group_by(errors.c.stage)
        ).all()
    assert [tuple(row) for row in stages] == [("validate", 510)]


def _refuse_listing(engine: sa.Engine, external_id: str) -> None:
    """A trigger that makes the database refuse to stage ``external_id``: the stage-write
    batch holding it fails."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION staging.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.external_id = '{external_id}' THEN "
                "RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON staging.listings "
                "FOR EACH ROW EXECUTE FUNCTION staging.refuse()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER staging.refuse BEFORE INSERT ON listings "
                f"WHEN NEW.external_id = '{external_id}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
            )


def test_an_ingest_leaves_out_a_record_the_database_refuses_and_names_it(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(8)
    records[1]["lat"] = 123.5  # L00002: invalid, a validate error of the transform
    with FeedServer(paginate_json(records, per_page=8)) as server:
        settings = _scraped(db_url, engine, tmp_path, server.url("/listings?page=1"))
    transform = _run_next(engine, settings, "transform")
    assert transform["status"] == "completed"
    _refuse_listing(engine, "L00005")

    ingest = _run_next(engine, settings, "ingest")
    assert ingest["status"] == "completed"
    rows = _error_rows(engine)
    assert [row[:5] for row in rows] == [
        (SOURCE, "L00002", "location.latitude", "validate", transform["id"]),
        (SOURCE, "L00005", None, "stage-write", ingest["id"]),
    ]
    assert rows[0][5] == "123.5 is greater than the maximum of 90"
    refused = "RaiseException" if engine.dialect.name == "postgresql" else "IntegrityError"
    assert rows[1][5] == f"the database refused the record: {refused}: refused by a test trigger"
    with engine.connect() as conn:
        staged = conn.execute(sa.select(staging["listings"].c.external_id)).scalars().all()
    assert sorted(staged) == ["L00001", "L00003", "L00004", "L00006", "L00007", "L00008"]


def test_a_transform_rescued_after_its_lease_expired_names_its_source(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    # The worker running the transform is gone: another worker's rescue pass fails the
    # attempt, knowing only the job's row. The payload the scrape queued names the source.
    with FeedServer(paginate_json(feed(8), per_page=8)) as server:
        _scraped(db_url, engine, tmp_path, server.url("/listings?page=1"))
    short = job_settings(db_url, str(tmp_path / "files"), PIPELINE_LEASE_SECONDS="0.1")
    (claimed,) = claim(engine, "gone-worker", 1, short)
    assert claimed.type == "transform"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rescue_expired(engine, short).retried == 0:
        time.sleep(0.1)
    ((source, external_id, field, stage, job_id, message),) = _error_rows(engine)
    assert (source, external_id, field, stage, job_id) == (SOURCE, None, None, "job", claimed.id)
    assert message.startswith(f"transform job {claimed.id}, attempt 1 of 5: ")
