"""Data quality: scores from the documented rules, stored with their breakdown, summed up
per source by ``dmo-pipeline quality``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from promotion_kit import crawl, listings, mark_images_stored

from pipeline_core.config import load_settings
from pipeline_core.db.tables import listing_quality, staging
from pipeline_core.exceptions import ConfigError
from pipeline_core.quality.rules import RULES, ImageState, score_record
from pipeline_core.quality.store import listing_score, score_listings, source_quality

NOW = datetime(2026, 12, 7, tzinfo=UTC)
STAGED = staging["listings"]


def _full() -> dict[str, Any]:
    return {
        "source": "s",
        "external_id": "1",
        "dmo": "d",
        "category": "attraction",
        "language": "en",
        "name": {"en": "Galway City Museum", "ga": "Músaem Chathair na Gaillimhe"},
        "description": {"en": "x" * 200},
        "url": "https://example.ie/museum",
        "location": {"latitude": 53.27, "longitude": -9.05, "country": "IE"},
        "contact": {"phone": "+353 91 532 460", "website": "https://museum.example.ie"},
        "images": [{"url": "https://img.example.ie/1.jpg", "caption": "Front"}],
        "opening_hours": [{"weekday": 0, "opens": "10:00", "closes": "17:00"}],
    }


def test_the_weights_sum_to_100() -> None:
    assert sum(rule.weight for rule in RULES) == 100


def test_a_complete_record_scores_100_and_each_gap_costs_its_rule() -> None:
    score, breakdown = score_record(_full(), NOW - timedelta(days=3), NOW)
    assert score == 100
    assert breakdown["coordinates"] == {"weight": 15, "points": 15.0, "detail": "inside IE"}

    record = _full()
    record["location"] = {"latitude": 48.85, "longitude": 2.35, "country": "IE"}  # Paris
    record["contact"] = {"phone": "12"}
    del record["opening_hours"]
    record["opening_hours_text"] = "ask at the desk"
    record["description"] = {"en": "y" * 60}
    score, breakdown = score_record(record, NOW - timedelta(days=45), NOW)
    assert {name: rule["points"] for name, rule in breakdown.items()} == {
        "name": 10.0,
        "recommended": 12.0,  # opening hours and website missing
        "contact": 7.5,
        "coordinates": 7.5,
        "hours": 5.0,
        "images": 10.0,
        "description": 5.0,
        "languages": 5.0,
        "freshness": 2.5,
    }
    assert score == 65  # 64.5, rounded half up
    assert breakdown["coordinates"]["detail"] == "coordinates outside IE"
    assert breakdown["recommended"]["detail"] == "missing: opening_hours, contact.website"


def test_a_bare_record_scores_its_name_only() -> None:
    record = {"source": "s", "external_id": "1", "dmo": "d", "category": "other",
              "name": {"de": "Hütte"}}  # fmt: skip
    score, breakdown = score_record(record, None, NOW)
    assert score == 5
    assert breakdown["name"]["detail"] == "name, but not in the record's language"
    assert breakdown["freshness"]["detail"] == "never seen"


def test_the_quality_minimum_setting_is_checked() -> None:
    assert load_settings({"PIPELINE_QUALITY_MINIMUM": "60,visit-x=75"}).quality_minimum == (
        "60,visit-x=75"
    )
    with pytest.raises(ConfigError, match="PIPELINE_QUALITY_MINIMUM='101' is not accepted"):
        load_settings({"PIPELINE_QUALITY_MINIMUM": "101"})


def test_scores_are_stored_and_summed_up_per_source(
    engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    crawl(engine, tmp_path, listings(4))
    mark_images_stored(engine)
    assert score_listings(engine) == 4
    with engine.connect() as conn:
        scores = dict(
            conn.execute(sa.select(listing_quality.c.listing_id, listing_quality.c.score)).all()
        )
        assert scores == {1: 71, 2: 75, 3: 72, 4: 85}
        one = listing_score(conn, 1)
        assert one is not None and one["breakdown"]["hours"]["detail"] == "no hours"
        (summary,) = source_quality(conn)
    assert summary.as_dict() == {
        "source": "plain",
        "dmo": "test-dmo",
        "listings": 4,
        "average": 75.8,
        "lowest": 71,
        "worst_rules": [
            {"rule": "description", "points_lost": 10.0},
            {"rule": "hours", "points_lost": 5.0},
            {"rule": "languages", "points_lost": 3.8},
        ],
    }
    shown = run_cli("quality", "plain", env=pipeline_env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (
        "plain  (test-dmo)  listings 4  average 75.8  lowest 71  "
        "worst rules: description -10, hours -5, languages -3.8\n"
    )
    assert run_cli("quality", "nope", env=pipeline_env).stdout == "no scored listings of nope\n"


def test_freshness_counts_the_last_complete_crawl_not_the_last_change(
    engine: sa.Engine, tmp_path: Path
) -> None:
    from pipeline_core.db.tables import sources, staging

    crawl(engine, tmp_path, listings(1))
    long_ago = datetime.now(UTC) - timedelta(days=200)
    with engine.begin() as conn:  # written long ago, unchanged since ...
        conn.execute(sa.update(staging["listings"]).values(updated_at=long_ago))
        conn.execute(sa.update(sources).values(last_complete_crawl_at=long_ago))
    score_listings(engine)
    with engine.connect() as conn:
        stale = listing_score(conn, 1)
    assert stale is not None and stale["breakdown"]["freshness"]["points"] == 0.0
    crawl(engine, tmp_path, listings(1))  # ... but seen by today's complete crawl
    score_listings(engine)
    with engine.connect() as conn:
        fresh = listing_score(conn, 1)
    assert fresh is not None
    assert fresh["breakdown"]["freshness"] == {
        "weight": 5,
        "points": 5.0,
        "detail": "seen 0 days ago",
    }
    assert fresh["score"] == stale["score"] + 5


def test_the_images_rule_counts_only_stored_images() -> None:
    stored, failed = ImageState("stored", True), ImageState("failed", True)
    points = {
        name: score_record(_full(), NOW, NOW, images)[1]["images"]
        for name, images in {
            "stored": (stored, failed),
            "bare": (ImageState("stored", False),),
            "pending": (failed, ImageState("pending", True)),
            "failed": (failed,),
            "none": (),
        }.items()
    }
    assert points == {
        "stored": {"weight": 10, "points": 10.0, "detail": "1 of 2 image(s) stored"},
        "bare": {
            "weight": 10,
            "points": 5.0,
            "detail": "1 of 1 image(s) stored, without caption or credit",
        },
        "pending": {
            "weight": 10,
            "points": 5.0,
            "detail": "2 image(s), none stored (1 failed, 1 pending)",
        },
        "failed": {"weight": 10, "points": 0.0, "detail": "1 image(s), none stored (1 failed)"},
        "none": {"weight": 10, "points": 0.0, "detail": "no image"},
    }


def test_the_image_job_scores_its_listings_again(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    from image_samples import jpeg, photo
    from image_server import ImageServer
    from jobs_kit import run_job
    from test_images import settings_for, stage

    with ImageServer() as server:
        server.bodies["/good.jpg"] = (jpeg(photo(5, 320, 240)), "image/jpeg")
        server.bodies["/broken.jpg"] = (b"not an image at all", "image/jpeg")
        stage(
            engine,
            "img-quality",
            {"good": [server.url("/good.jpg")], "bad": [server.url("/broken.jpg")]},
        )
        settings = settings_for(db_url, {"storage_url": str(tmp_path / "files")})
        # before the job, neither image is processed: half the rule's points for both
        score_listings(engine, source="img-quality")
        assert _images_points(engine) == {"good": 5.0, "bad": 5.0}
        stats = run_job(engine, settings, "image", {"source": "img-quality"}).result.stats
    assert (stats["stored"], stats["failed"], stats["rescored"]) == (1, 1, 2)
    with engine.connect() as conn:
        scores = dict(
            conn.execute(
                sa.select(STAGED.c.external_id, listing_quality.c.score).join(
                    STAGED, STAGED.c.id == listing_quality.c.listing_id
                )
            ).all()
        )
    assert _images_points(engine) == {"good": 10.0, "bad": 0.0}
    assert scores["good"] - scores["bad"] == 10


def _images_points(engine: sa.Engine) -> dict[str, float]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(STAGED.c.external_id, listing_quality.c.breakdown).join(
                STAGED, STAGED.c.id == listing_quality.c.listing_id
            )
        ).all()
    return {external_id: breakdown["images"]["points"] for external_id, breakdown in rows}
