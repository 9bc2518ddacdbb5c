"""The image job against a loopback HTTP server, with local and S3 (moto) storage: every
output stored with its size, format, content type and cache header; a second run asks
conditionally and writes nothing; shared content stored once; each broken image an error
row while its listing's other images are stored."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from image_samples import (
    corrupt_jpeg,
    html_page,
    jpeg,
    photo,
    png_bomb,
    srgb_profile,
    transparent_png,
    truncated_png,
)
from image_server import ImageServer
from jobs_kit import job_settings, run_job
from moto_server import moto_endpoint  # noqa: F401  (a fixture)
from PIL import Image

from pipeline_core.config import Settings
from pipeline_core.db.tables import errors, images, staging
from pipeline_core.items import ListingItem
from pipeline_core.stages.writer import StageWriter
from pipeline_core.storage import get_storage

SOURCE = "img-test"
OTHER = "img-other"
CACHE = "public, max-age=31536000, immutable"


def stage(engine: sa.Engine, source: str, listings: dict[str, list[str]]) -> None:
    """Stage one listing per external id with these image URLs (as an ingest does)."""
    items = []
    for external_id, urls in listings.items():
        record = {
            "dmo": "test-dmo",
            "category": "attraction",
            "name": {"en": f"Listing {external_id}"},
            "images": [{"url": url, "caption": f"Photo {i}"} for i, url in enumerate(urls)],
        }
        items.append(ListingItem(source, external_id, record, record_hash=uuid.uuid4().hex))
    with engine.begin() as conn:
        StageWriter(engine.dialect.name).write(conn, items)


def storage_of(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if kind == "local":
        return {"storage_url": str(tmp_path / "files")}
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = f"img-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return {"storage_url": f"s3://{bucket}/dmo", "PIPELINE_S3_ENDPOINT_URL": endpoint}


def settings_for(db_url: str, where: dict[str, str], **extra: str) -> Settings:
    where = dict(where)
    return job_settings(
        db_url,
        where.pop("storage_url"),
        PIPELINE_DISABLE_PLUGINS="",
        PIPELINE_IMAGE_PROCESSES="2",
        **where,
        **extra,
    )


def stored_objects(settings: Settings) -> dict[str, tuple[str, str | None, Any]]:
    """Every object under images/: key → (content type, cache control, version stamp)."""
    storage: Any = get_storage(settings)
    if settings.storage_url.startswith("s3://"):
        out = {}
        listing = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix="dmo/images/")
        for entry in listing.get("Contents", []):
            head = storage.client.head_object(Bucket=storage.bucket, Key=entry["Key"])
            out[entry["Key"][len("dmo/") :]] = (
                head["ContentType"],
                head.get("CacheControl"),
                (head["LastModified"], head["ETag"]),
            )
        return out
    root = Path(storage.root) / "images"
    return {
        path.relative_to(storage.root).as_posix(): ("", None, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def image_rows(engine: sa.Engine, source: str) -> dict[tuple[str, int], dict[str, Any]]:
    table, listings = staging["listing_images"], staging["listings"]
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(listings.c.external_id, table)
            .join(listings, listings.c.id == table.c.listing_id)
            .where(listings.c.source == source)
        ).mappings()
        return {(row["external_id"], row["position"]): dict(row) for row in found}


@pytest.mark.parametrize("storage_kind", ["local", "s3"])
def test_image_job_stores_variants_dedups_and_records_errors(
    storage_kind: str,
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    icc = srgb_profile()
    photo_bytes = jpeg(photo(1, 1600, 1200), orientation=6, icc=icc)  # rotated: 1200 x 1600
    with ImageServer() as server:
        server.bodies.update(
            {
                "/a/photo.jpg": (photo_bytes, "image/jpeg"),
                "/a/logo.png": (transparent_png(), "image/png"),
                "/shared.jpg": (jpeg(photo(2, 800, 600)), "image/jpeg"),
                "/b/copy.jpg": (photo_bytes, "image/jpeg"),  # same bytes, another URL
                "/b/corrupt.jpg": (corrupt_jpeg(), "image/jpeg"),
                "/b/truncated.png": (truncated_png(), "image/png"),
                "/b/page.jpg": (html_page(), "image/jpeg"),
                "/b/bomb.png": (png_bomb(), "image/png"),
            }
        )
        server.redirects["/b/moved.jpg"] = "http://10.20.30.40/x.jpg"
        url = server.url
        stage(
            engine,
            SOURCE,
            {
                "L1": [url("/a/photo.jpg"), url("/a/logo.png"), url("/shared.jpg")],
                "L2": [
                    url("/shared.jpg"),
                    url("/b/copy.jpg"),
                    url("/b/corrupt.jpg"),
                    url("/b/truncated.png"),
                    url("/b/page.jpg"),
                    url("/b/bomb.png"),
                    url("/b/moved.jpg"),
                ],
            },
        )
        stage(engine, OTHER, {"X1": [url("/shared.jpg")]})
        settings = settings_for(db_url, storage_of(storage_kind, request, tmp_path))

        first = run_job(engine, settings, "image", {"source": SOURCE}).result.stats
        other = run_job(engine, settings, "image", {"source": OTHER}).result.stats

        assert first["urls"] == 9 and first["images"] == 10
        assert (first["stored"], first["deduplicated"], first["failed"]) == (3, 1, 5)
        assert first["objects_written"] == 9  # 3 contents x (original + 2 variants)
        assert (other["reused"], other["objects_written"], other["bytes_downloaded"]) == (1, 0, 0)
        assert [r.path for r in server.requests].count("/shared.jpg") == 1

        rows = image_rows(engine, SOURCE)
        status = {key: row["status"] for key, row in rows.items()}
        assert status == {
            ("L1", 0): "stored",
            ("L1", 1): "stored",
            ("L1", 2): "stored",
            ("L2", 0): "stored",
            ("L2", 1): "stored",
            **{("L2", p): "failed" for p in range(2, 7)},
        }
        photo_row, copy_row = rows[("L1", 0)], rows[("L2", 1)]
        assert (photo_row["width"], photo_row["height"]) == (1200, 1600)  # EXIF applied
        for column in ("content_hash", "original_key", "variants", "bytes"):
            assert copy_row[column] == photo_row[column]  # one content, stored once
        assert rows[("L2", 0)]["original_key"] == rows[("L1", 2)]["original_key"]
        assert (
            image_rows(engine, OTHER)[("X1", 0)]["original_key"]
            == (rows[("L1", 2)]["original_key"])
        )

        # every output: the format, size, content type and cache header it is said to have
        objects = stored_objects(settings)
        assert len(objects) == 9
        storage = get_storage(settings)
        expected = {
            ("L1", 0): [("original", "JPEG", (1200, 1600)), ("thumb", "JPEG", (300, 400)),
                        ("large", "WEBP", (900, 1200))],
            ("L1", 1): [("original", "PNG", (640, 480)), ("thumb", "PNG", (400, 300)),
                        ("large", "WEBP", (640, 480))],
            ("L1", 2): [("original", "JPEG", (800, 600)), ("thumb", "JPEG", (400, 300)),
                        ("large", "WEBP", (800, 600))],
        }  # fmt: skip
        for key, outputs in expected.items():
            row = rows[key]
            keys = {"original": row["original_key"]} | {
                name: v["key"] for name, v in row["variants"].items()
            }
            for name, pillow_format, size in outputs:
                data = storage.read(keys[name])
                image = Image.open(io.BytesIO(data))
                assert (image.format, image.size) == (pillow_format, size), (key, name)
                assert not image.getexif()  # camera metadata stripped
                assert image.info.get("icc_profile") == (icc if key == ("L1", 0) else None)
                if name != "original":
                    variant = row["variants"][name]
                    assert (variant["width"], variant["height"]) == size
                    assert variant["bytes"] == len(data)
                if storage_kind == "s3":
                    content_type = f"image/{pillow_format.lower()}"
                    assert objects[keys[name]][:2] == (content_type, CACHE)
        assert Image.open(io.BytesIO(storage.read(rows[("L1", 0)]["original_key"]))).info[
            "progressive"
        ]

        # the error rows: source, listing, URL and reason; the listing stays valid
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(errors.c.source, errors.c.external_id, errors.c.field, errors.c.url,
                          errors.c.message, errors.c.stage)
                .order_by(errors.c.field)
            ).all()  # fmt: skip
            listing_status = dict(
                conn.execute(
                    sa.select(staging["listings"].c.external_id, staging["listings"].c.status)
                ).all()
            )
        assert listing_status == {"L1": "active", "L2": "active", "X1": "active"}
        reasons = {
            2: ("/b/corrupt.jpg", "corrupt JPEG"),
            3: ("/b/truncated.png", "truncated or corrupt PNG: image file is truncated"),
            4: ("/b/page.jpg", "not an image: the body is an HTML page"),
            5: ("/b/bomb.png", "too many pixels"),
            6: ("/b/moved.jpg", "redirected to http://10.20.30.40/x.jpg: refused by the URL"),
        }
        assert len(found) == 5
        for (src, external_id, field, image_url, message, stage_name), (
            position,
            (path, why),
        ) in zip(found, sorted(reasons.items()), strict=True):
            assert (src, external_id, field, image_url, stage_name) == (
                SOURCE, "L2", f"images.{position}.url", url(path), "image"
            )  # fmt: skip
            assert message.startswith(f"image {url(path)} of listing L2: {why}"), message
            assert rows[("L2", position)]["error"] == message.split(": ", 1)[1]

        # a second run asks every stored URL conditionally, gets 304s and writes nothing
        before_rows, before_objects = image_rows(engine, SOURCE), stored_objects(settings)
        with engine.connect() as conn:
            before_images = sorted(map(tuple, conn.execute(
                sa.select(images).where(images.c.status == "stored")).all()))  # fmt: skip
        server.requests.clear()
        again = run_job(engine, settings, "image", {"source": SOURCE, "refresh": True})
        stats = again.result.stats
        assert (stats["not_modified"], stats["stored"], stats["objects_written"]) == (4, 0, 0)
        for path in ("/a/photo.jpg", "/a/logo.png", "/shared.jpg", "/b/copy.jpg"):
            (served,) = [r for r in server.requests if r.path == path]
            assert (served.status, served.if_modified_since) == (
                304,
                "Mon, 07 Dec 2026 04:00:00 GMT",
            )
            assert served.if_none_match is not None
        assert stored_objects(settings) == before_objects
        after_rows = image_rows(engine, SOURCE)
        assert {k: v for k, v in after_rows.items() if v["status"] == "stored"} == {
            k: v for k, v in before_rows.items() if v["status"] == "stored"
        }
        with engine.connect() as conn:
            after_images = sorted(map(tuple, conn.execute(
                sa.select(images).where(images.c.status == "stored")).all()))  # fmt: skip
        assert after_images == before_images


def test_a_changed_image_is_downloaded_and_stored_again(
    db_url: str, engine: sa.Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with ImageServer() as server:
        server.bodies["/p.jpg"] = (jpeg(photo(5, 640, 480)), "image/jpeg")
        stage(engine, SOURCE, {"L1": [server.url("/p.jpg")]})
        settings = settings_for(db_url, storage_of("local", request, tmp_path))
        run_job(engine, settings, "image", {"source": SOURCE})
        first = image_rows(engine, SOURCE)[("L1", 0)]
        server.bodies["/p.jpg"] = (jpeg(photo(6, 500, 500)), "image/jpeg")
        stats = run_job(engine, settings, "image", {"source": SOURCE, "refresh": True}).result.stats
        assert (stats["stored"], stats["objects_written"]) == (1, 3)
        assert server.statuses("/p.jpg") == [200, 200]
        second = image_rows(engine, SOURCE)[("L1", 0)]
        assert (second["width"], second["height"]) == (500, 500)
        assert second["content_hash"] != first["content_hash"]
        assert len(stored_objects(settings)) == 6  # the old outputs stay for caches


def test_byte_limit_timeout_and_redirects(
    db_url: str, engine: sa.Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with ImageServer() as server:
        server.bodies["/big.jpg"] = (jpeg(photo(5, 640, 480)), "image/jpeg")
        server.bodies["/small.png"] = (transparent_png(64, 48), "image/png")
        server.bodies["/slow.png"] = (transparent_png(64, 48), "image/png")
        server.delays["/slow.png"] = 3.0
        server.redirects["/moved.png"] = "/small.png"  # a loopback redirect is followed
        urls = [server.url(p) for p in ("/big.jpg", "/moved.png", "/slow.png")]
        stage(engine, SOURCE, {"L1": urls})
        settings = settings_for(
            db_url,
            storage_of("local", request, tmp_path),
            PIPELINE_IMAGE_MAX_BYTES="10000",
            PIPELINE_IMAGE_TIMEOUT="0.5",
        )
        stats = run_job(engine, settings, "image", {"source": SOURCE}).result.stats
    assert (stats["stored"], stats["failed"]) == (1, 2)
    rows = image_rows(engine, SOURCE)
    assert rows[("L1", 0)]["status"] == "failed"
    assert rows[("L1", 0)]["error"].startswith("too large: Content-Length ")
    assert rows[("L1", 0)]["error"].endswith("PIPELINE_IMAGE_MAX_BYTES=10000; not downloaded")
    assert (rows[("L1", 1)]["status"], rows[("L1", 1)]["width"]) == ("stored", 64)
    assert server.statuses("/moved.png") == [302] and server.statuses("/small.png") == [200]
    assert rows[("L1", 2)]["status"] == "failed"
    assert rows[("L1", 2)]["error"] == "timed out after 0.5 s"
