"""Images on hosts that do not resolve fail at once, each with its error row: the host is
looked up once per run (through ``PIPELINE_NAME_SERVERS``, a DNS server on 127.0.0.1 here,
for the check and the connection alike), and a name server that does not answer costs at
most ``PIPELINE_IMAGE_TIMEOUT`` once, not for every image."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import sqlalchemy as sa
from dns_server import ScriptedDNS
from image_samples import jpeg, photo
from image_server import ImageServer
from jobs_kit import run_job
from test_images import SOURCE, image_rows, settings_for, stage

from pipeline_core.config import Settings
from pipeline_core.db.tables import errors
from pipeline_core.images.run import ImageRun
from pipeline_core.storage import get_storage

IMAGES = 20


def timed_run(engine: sa.Engine, settings: Settings) -> tuple[dict[str, int], float]:
    """The image run of ``SOURCE`` (as the job runs it) and its seconds."""
    run = ImageRun(engine, settings, get_storage(settings), SOURCE)
    started = time.monotonic()
    stats = run.run()
    return stats, time.monotonic() - started


def error_messages(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        found = conn.execute(sa.select(errors.c.external_id, errors.c.message)).all()
    assert len(found) == len({external_id for external_id, _ in found})  # one row each
    return dict(found)


def test_a_host_that_does_not_exist_fails_its_images_at_once(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with ScriptedDNS({"photos.dmo.test": ["127.0.0.1"]}) as dns, ImageServer() as server:
        stage(
            engine,
            SOURCE,
            {f"L{i:02d}": [f"http://cdn.gone.test/img/{i}.jpg"] for i in range(IMAGES)},
        )
        settings = settings_for(
            db_url,
            {"storage_url": str(tmp_path / "files")},
            PIPELINE_NAME_SERVERS=dns.address,
            PIPELINE_ALLOWED_HOSTS="photos.dmo.test",
        )
        stats, elapsed = timed_run(engine, settings)
        assert stats["failed"] == IMAGES
        assert elapsed < 1.0  # 20 failed images, their rows and error rows included

        # a name the servers know is fetched: checked and connected through them
        server.bodies["/p.jpg"] = (jpeg(photo(1, 160, 120)), "image/jpeg")
        port = server.url("/").rsplit(":", 1)[1].rstrip("/")
        stage(engine, SOURCE, {"OK": [f"http://photos.dmo.test:{port}/p.jpg"]})
        stats = run_job(engine, settings, "image", {"source": SOURCE}).result.stats
        assert (stats["urls"], stats["stored"]) == (1, 1)

    # one lookup of the missing name for all 20 images (NXDOMAIN ends it: no AAAA asked);
    # the allowed name is not looked up by the check; its connection asks (A, then AAAA)
    assert dns.queries.count(("cdn.gone.test", "A")) == 1
    assert ("cdn.gone.test", "AAAA") not in dns.queries
    assert [q for q in dns.queries if q[0] == "photos.dmo.test"] == [
        ("photos.dmo.test", "A"),
        ("photos.dmo.test", "AAAA"),
    ]
    reason = f"host 'cdn.gone.test' does not resolve (name servers {dns.address})"
    rows = image_rows(engine, SOURCE)
    assert {k: (r["status"], r["error"]) for k, r in rows.items() if k != ("OK", 0)} == {
        (f"L{i:02d}", 0): ("failed", reason) for i in range(IMAGES)
    }
    assert rows[("OK", 0)]["status"] == "stored"
    assert error_messages(engine) == {
        f"L{i:02d}": f"image http://cdn.gone.test/img/{i}.jpg of listing L{i:02d}: {reason}"
        for i in range(IMAGES)
    }


def test_a_name_server_that_does_not_answer_costs_the_timeout_once(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # reads nothing, answers nothing
    silent.bind(("127.0.0.1", 0))
    with silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        stage(
            engine, SOURCE, {f"L{i:02d}": [f"https://cdn.slow.test/{i}.jpg"] for i in range(IMAGES)}
        )
        settings = settings_for(
            db_url,
            {"storage_url": str(tmp_path / "files")},
            PIPELINE_NAME_SERVERS=address,
            PIPELINE_IMAGE_TIMEOUT="0.3",
        )
        stats, elapsed = timed_run(engine, settings)

    assert stats["failed"] == IMAGES
    # 20 images x 0.3 s would be 6 s (with 8 downloads at once, 0.9 s); one lookup is 0.3 s
    assert elapsed < 0.9
    reasons = {r["error"] for r in image_rows(engine, SOURCE).values()}
    (reason,) = reasons
    assert reason.startswith(
        f"host 'cdn.slow.test' does not resolve: name servers {address} gave no answer within 0."
    ), reason
    assert len(error_messages(engine)) == IMAGES
