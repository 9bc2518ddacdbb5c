"""A URL that fails is not fetched again until ``PIPELINE_IMAGE_RETRY_AFTER`` has passed,
and each listing image keeps one error row however often its URL fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import run_cli
from image_samples import jpeg, photo
from image_server import ImageServer
from jobs_kit import run_job
from test_images import SOURCE, image_rows, settings_for, stage

from pipeline_core.db.tables import errors


def error_rows(engine: sa.Engine) -> dict[str, Any]:
    """The image error rows by listing: (id, message, job id, time)."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(
                errors.c.external_id,
                errors.c.id,
                errors.c.message,
                errors.c.job_id,
                errors.c.created_at,
            ).where(errors.c.stage == "image")
        ).all()
    by_listing = {row[0]: tuple(row[1:]) for row in found}
    assert len(by_listing) == len(found), found  # one row per listing image
    return by_listing


def test_a_failing_url_is_not_fetched_again_until_its_retry_time(
    db_url: str, engine: sa.Engine, tmp_path: Path, pipeline_env: dict[str, str]
) -> None:
    with ImageServer() as server:
        missing = server.url("/gone.jpg")
        stage(engine, SOURCE, {"L1": [missing], "L2": [missing]})
        where = {"storage_url": str(tmp_path / "files")}
        settings = settings_for(db_url, where)

        first = run_job(engine, settings, "image", {"source": SOURCE})
        assert (first.result.stats["failed"], server.statuses("/gone.jpg")) == (1, [404])
        before = error_rows(engine)
        assert {k: v[1] for k, v in before.items()} == {
            "L1": f"image {missing} of listing L1: HTTP 404 Not Found",
            "L2": f"image {missing} of listing L2: HTTP 404 Not Found",
        }

        # every image asked again: the failed URL is not, and no error row is added
        again = run_job(engine, settings, "image", {"source": SOURCE, "refresh": True})
        stats = again.result.stats
        assert (stats["failed"], stats["failed_before"], stats["rows_written"]) == (0, 1, 0)
        assert server.statuses("/gone.jpg") == [404]
        assert error_rows(engine) == before

        # a new listing with the known-failing URL gets its row, from what is known
        stage(engine, SOURCE, {"L3": [missing]})
        env = pipeline_env | {"PIPELINE_DISABLE_PLUGINS": ""}
        planned = run_cli("images", SOURCE, "--dry-run", "--pending", env=env)
        assert planned.stdout.splitlines() == [
            f"{SOURCE}: 1 image URLs: 0 to download, 0 to ask again (conditional request), "
            "0 already stored, 1 failed before (not fetched until PIPELINE_IMAGE_RETRY_AFTER "
            "has passed)",
            f"  failed      {missing}  (L3)",
        ]
        third = run_job(engine, settings, "image", {"source": SOURCE})
        assert (third.result.stats["failed_before"], third.result.stats["rows_written"]) == (1, 1)
        assert server.statuses("/gone.jpg") == [404]
        rows = image_rows(engine, SOURCE)
        assert (rows[("L3", 0)]["status"], rows[("L3", 0)]["error"]) == (
            "failed",
            "HTTP 404 Not Found",
        )
        with_l3 = error_rows(engine)
        assert with_l3["L3"][1:3] == (
            f"image {missing} of listing L3: HTTP 404 Not Found",
            third.job_id,
        )
        assert {k: v for k, v in with_l3.items() if k != "L3"} == before

        # once the retry time has passed (0 here) it is fetched; failing again, it
        # updates its rows instead of adding new ones
        now = settings_for(db_url, where, PIPELINE_IMAGE_RETRY_AFTER="0")
        server.bodies["/gone.jpg"] = (b"<html>moved</html>", "image/jpeg")
        fourth = run_job(engine, now, "image", {"source": SOURCE, "refresh": True})
        assert fourth.result.stats["failed"] == 1
        assert server.statuses("/gone.jpg") == [404, 200]
        updated = error_rows(engine)
        assert updated.keys() == with_l3.keys()
        for listing, (error_id, message, job_id, created_at) in updated.items():
            assert error_id == with_l3[listing][0]  # the same row
            assert message == (
                f"image {missing} of listing {listing}: not an image: the body is an HTML page"
            )
            assert job_id == fourth.job_id
            assert created_at >= with_l3[listing][3]

        # and when it works again, every listing image is stored
        server.bodies["/gone.jpg"] = (jpeg(photo(3, 160, 120)), "image/jpeg")
        fifth = run_job(engine, now, "image", {"source": SOURCE, "refresh": True})
        assert (fifth.result.stats["stored"], fifth.result.stats["rows_written"]) == (1, 3)
        assert {r["status"] for r in image_rows(engine, SOURCE).values()} == {"stored"}
        assert len(error_rows(engine)) == 3  # the history stays
