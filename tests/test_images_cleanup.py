"""Stored images no row uses any more are deleted by ``dmo-pipeline images
--delete-unused`` (local folder and S3 on moto): the old outputs of an image whose content
changed, and those of an image a listing dropped, once the grace period has passed; what a
listing, another source or a promotion snapshot still names is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run_cli
from image_samples import jpeg, photo
from image_server import ImageServer
from jobs_kit import run_job
from moto_server import moto_endpoint  # noqa: F401  (a fixture)
from test_images import OTHER, SOURCE, image_rows, settings_for, stage, storage_of, stored_objects

from pipeline_core.db.tables import images, promotion_changes
from pipeline_core.images.cleanup import delete_unused
from pipeline_core.storage import get_storage


def keys_of(row: dict[str, object]) -> set[str]:
    variants = row["variants"]
    assert isinstance(variants, dict)
    return {str(row["original_key"])} | {v["key"] for v in variants.values()}


@pytest.mark.parametrize("storage_kind", ["local", "s3"])
def test_unused_outputs_are_deleted_and_used_ones_kept(
    storage_kind: str,
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    pipeline_env: dict[str, str],
) -> None:
    with ImageServer() as server:
        for path, seed in (("/a.jpg", 1), ("/b.jpg", 2), ("/shared.jpg", 3)):
            server.bodies[path] = (jpeg(photo(seed, 320, 240)), "image/jpeg")
        a, b, shared = (server.url(p) for p in ("/a.jpg", "/b.jpg", "/shared.jpg"))
        shared_bytes = server.bodies["/shared.jpg"][0]
        stage(engine, SOURCE, {"L1": [a, shared], "L2": [b, shared]})
        stage(engine, OTHER, {"X1": [shared]})
        settings = settings_for(db_url, storage_of(storage_kind, request, tmp_path))
        run_job(engine, settings, "image", {"source": SOURCE})
        run_job(engine, settings, "image", {"source": OTHER})
        first = image_rows(engine, SOURCE)
        old_a, old_b = keys_of(first[("L1", 0)]), keys_of(first[("L2", 0)])
        kept_shared = keys_of(first[("L1", 1)])
        assert len(stored_objects(settings)) == 9

        # /a.jpg changes its content; L2 drops /b.jpg
        server.bodies["/a.jpg"] = (jpeg(photo(4, 320, 240)), "image/jpeg")
        run_job(engine, settings, "image", {"source": SOURCE, "refresh": True})
        stage(engine, SOURCE, {"L2": [shared]})
        run_job(engine, settings, "image", {"source": SOURCE})
    rows = image_rows(engine, SOURCE)
    new_a = keys_of(rows[("L1", 0)])
    assert new_a.isdisjoint(old_a) and len(stored_objects(settings)) == 12
    # a promotion snapshot still names the old /a.jpg outputs (a rollback puts them back)
    old_row = {"original_key": first[("L1", 0)]["original_key"]} | {
        "variants": first[("L1", 0)]["variants"]
    }
    with engine.begin() as conn:
        conn.execute(
            sa.insert(promotion_changes).values(
                batch_id=1,
                source=SOURCE,
                external_id="L1",
                action="updated",
                before={"listings": {}, "listing_images": [old_row]},
            )
        )

    # an object no row names yet, as a running job leaves it for a moment
    storage = get_storage(settings)
    stray = "images/ff/" + "f" * 64 + "/recipe/original.jpg"
    storage.put_bytes(stray, b"not yet in a row", "image/jpeg")
    recent = delete_unused(engine, storage)  # an hour's grace: the /b.jpg row and the stray
    assert (recent.url_rows, recent.objects, recent.recent) == (0, 0, 1)  # are new
    assert len(stored_objects(settings)) == 13

    if storage_kind == "local":  # the command, dry run: lists, deletes nothing
        env = pipeline_env | {"PIPELINE_STORAGE_URL": settings.storage_url}
        shown = run_cli("images", "--delete-unused", "--grace", "0", "--dry-run", env=env)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].startswith("would delete 4 stored images (")
        assert lines[0].endswith(
            "bytes) and 1 image URL rows no listing uses; kept 0 unused ones written less "
            "than 0 s ago"
        )
        assert sorted(line.strip() for line in lines[1:]) == sorted(old_b | {stray})
        assert len(stored_objects(settings)) == 13

    done = delete_unused(engine, storage, grace=0)
    assert (done.url_rows, done.objects, done.recent) == (1, 4, 0)
    assert sorted(done.keys) == sorted(old_b | {stray})
    assert set(stored_objects(settings)) == new_a | kept_shared | old_a
    with engine.connect() as conn:
        assert b not in set(conn.execute(sa.select(images.c.url)).scalars())

    with engine.begin() as conn:  # the snapshot is gone: the old /a.jpg outputs go too
        conn.execute(sa.delete(promotion_changes))
    done = delete_unused(engine, storage, grace=0)
    assert (done.url_rows, done.objects) == (0, 3)
    assert set(stored_objects(settings)) == new_a | kept_shared
    for row in [*image_rows(engine, SOURCE).values(), *image_rows(engine, OTHER).values()]:
        for key in keys_of(row):
            assert storage.read(key)  # every row's outputs are still there
    if storage_kind == "local":  # no empty folders left behind
        root = Path(settings.storage_url) / "images"
        assert all(any(folder.iterdir()) for folder in root.rglob("*") if folder.is_dir())

    # content whose objects are gone (deleted meanwhile) is made again, not reused
    storage.delete(sorted(kept_shared))
    with ImageServer() as server:
        server.bodies["/copy.jpg"] = (shared_bytes, "image/jpeg")
        stage(engine, OTHER, {"X2": [server.url("/copy.jpg")]})
        stats = run_job(engine, settings, "image", {"source": OTHER}).result.stats
    assert (stats["stored"], stats["deduplicated"], stats["objects_written"]) == (1, 0, 3)
    assert set(stored_objects(settings)) == new_a | kept_shared
