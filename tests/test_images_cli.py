"""``dmo-pipeline images``: --dry-run says what would be fetched, --now runs, and by
default one image job per source is queued."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import run_cli
from image_samples import jpeg, photo
from image_server import ImageServer
from test_images import stage

from pipeline_core.db.tables import queue


def test_images_command_dry_run_now_and_queue(
    engine: sa.Engine, pipeline_env: dict[str, str]
) -> None:
    with ImageServer() as server:
        server.bodies["/a.jpg"] = (jpeg(photo(1, 320, 240)), "image/jpeg")
        server.bodies["/b.jpg"] = (jpeg(photo(2, 320, 240)), "image/jpeg")
        urls = [server.url("/a.jpg"), server.url("/b.jpg")]
        stage(engine, "cli-img", {"L1": urls, "L2": urls[1:]})
        env = pipeline_env | {"PIPELINE_IMAGE_PROCESSES": "1", "PIPELINE_DISABLE_PLUGINS": ""}

        planned = run_cli("images", "--dry-run", env=env)
        assert planned.returncode == 0, planned.stderr
        assert planned.stdout.splitlines() == [
            "cli-img: 2 image URLs: 2 to download, 0 to ask again (conditional request), "
            "0 already stored",
            f"  download    {urls[0]}  (L1)",
            f"  download    {urls[1]}  (L1, L2)",
        ]
        assert server.requests == []

        ran = run_cli("images", "cli-img", "--now", env=env)
        assert ran.returncode == 0, ran.stderr
        assert "cli-img: urls 2, images 3, reused 0, not_modified 0, unchanged 0, stored 2" in (
            ran.stdout
        )
        assert [r.status for r in server.requests] == [200, 200]

        again = run_cli("images", "--dry-run", env=env)
        assert again.stdout.splitlines()[0] == (
            "cli-img: 2 image URLs: 0 to download, 2 to ask again (conditional request), "
            "0 already stored"
        )

        missing = run_cli("images", "nope", env=env)
        assert missing.returncode == 2
        assert "no staged listing with images in nope (sources with images: cli-img)" in (
            missing.stderr
        )

        queued = run_cli("images", "cli-img", env=env)
        assert queued.returncode == 0, queued.stderr
        with engine.connect() as conn:
            job = conn.execute(sa.select(queue.c.id, queue.c.type, queue.c.payload)).one()
        assert queued.stdout.strip() == f"cli-img: queued image job {job.id}"
        assert (job.type, job.payload) == ("image", {"source": "cli-img", "refresh": True})
