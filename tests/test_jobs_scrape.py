"""The scrape job's child process, the registry of job types, and bad payloads."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from feeds import feed, write_mapping
from jobs_kit import job_settings, run_job

from pipeline_core.config import load_settings
from pipeline_core.db.tables import crawls, errors, files, queue
from pipeline_core.exceptions import JobError, UnknownSourceError
from pipeline_core.jobs.scrape import FOLDER_PREFIX, ORPHAN_AGE, sweep_orphaned_folders
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.testing import FeedServer, paginate_json

CRASHING_SPIDER = '''\
import os
import signal

import scrapy

from pipeline_core.scrapy.fetcher import FetcherSpider


class CrashingSpider(FetcherSpider):
    """Dies on its first page, as a crawl killed for running out of memory does."""

    name = "crash-feed"

    async def start(self):
        yield scrapy.Request(self.start_url, callback=self.parse)

    def parse(self, response):
        print("about to die on", response.url, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
'''

CRASHING_MAPPING = """\
source: crash-feed
dmo: test-dmo
fetcher: spider
url: {url}
id: id
fields:
  name: name
"""


def test_a_crawl_that_dies_fails_the_job_not_the_worker(
    db_url: str, engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "spiders").mkdir(parents=True)
    (project / "mappings").mkdir()
    (project / "scrapy.cfg").write_text("[settings]\ndefault = pipeline_core.scrapy.settings\n")
    (project / "spiders" / "__init__.py").write_text("")
    (project / "spiders" / "crash_feed.py").write_text(CRASHING_SPIDER)
    monkeypatch.setenv("PIPELINE_PROJECT_DIR", str(project))
    with FeedServer(paginate_json(feed(8))) as server:
        (project / "mappings" / "crash-feed.yaml").write_text(
            CRASHING_MAPPING.format(url=server.url("/listings?page=1"))
        )
        settings = job_settings(db_url, str(tmp_path / "files"))
        with pytest.raises(JobError) as raised:
            run_job(engine, settings, "scrape", {"source": "crash-feed"})
    message = str(raised.value)
    assert message.startswith(
        "scrape of crash-feed: the crawl process was killed by signal SIGKILL before it finished"
    )
    assert "nothing was archived" in message
    assert f"about to die on {server.url('/listings?page=1')}" in message  # its last output
    assert os.getpid() > 0  # and here we are
    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one() == 0
        assert conn.execute(sa.select(queue.c.type)).scalars().all() == ["scrape"]
    assert f"(crawl {crawl['id']})" in message
    assert crawl["finish_reason"] == "crawl process was killed by signal SIGKILL"
    assert crawl["complete"] is False and crawl["finished_at"] is not None


RAGGED_MAPPING = """\
source: ragged-feed
dmo: test-dmo
fetcher: csv_feed
url: {url}
id: id
defaults: {{language: en}}
fields:
  name: name
  category: {{const: attraction}}
"""


def test_a_ragged_row_in_a_scrape_is_an_error_row_and_the_rest_is_archived(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    # Row 3 has a field too many: an error row naming it; rows 4 and 5 are still archived,
    # and the crawl is not complete, so the ingest withdraws nothing.
    body = b"id,name\n1,One\n2,Two\n3,Three,extra\n4,Four\n5,Five\n"
    with FeedServer({"/feed.csv": body}) as server:
        folder = tmp_path / "mappings"
        folder.mkdir()
        (folder / "ragged-feed.yaml").write_text(RAGGED_MAPPING.format(url=server.url("/feed.csv")))
        settings = job_settings(db_url, str(tmp_path / "files"), PIPELINE_SOURCES_PATH=str(folder))
        scraped = run_job(engine, settings, "scrape", {"source": "ragged-feed"})
    stats = scraped.result.stats
    assert (stats["records"], stats["complete"]) == (4, False)
    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        error = conn.execute(sa.select(errors)).mappings().one()
    assert crawl["complete"] is False
    assert (crawl["stats"]["scraped"], crawl["stats"]["invalid"]) == (5, 1)
    assert crawl["stats"]["errors"] == 1
    assert (error["stage"], error["external_id"], error["field"], error["job_id"]) == (
        "fetch",
        "3",
        "line 4",
        scraped.job_id,
    )
    assert error["message"] == "line 4: 3 fields where the header has 2; the row is not read"


def test_an_unknown_source_is_named(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    settings = job_settings(db_url, str(tmp_path / "files"))
    with pytest.raises(UnknownSourceError, match="no source named 'nowhere'"):
        run_job(engine, settings, "scrape", {"source": "nowhere"})


def test_bad_payloads_and_files_are_named(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    settings = job_settings(db_url, str(tmp_path / "files"))
    with pytest.raises(JobError, match=r"scrape job: payload needs 'source' \(text\), got None"):
        run_job(engine, settings, "scrape", {})
    with pytest.raises(JobError, match=r"transform job: payload needs 'file_id' .* got 'x'"):
        run_job(engine, settings, "transform", {"file_id": "x"})
    with pytest.raises(JobError, match=r"ingest job: there is no file 99 in pipeline\.files"):
        run_job(engine, settings, "ingest", {"file_id": 99})


def test_transform_refuses_a_damaged_archive(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer(paginate_json(feed(10))) as server:
        write_mapping(tmp_path / "mappings", "damaged-feed", server.url("/listings?page=1"))
        settings = job_settings(
            db_url, str(tmp_path / "files"), PIPELINE_SOURCES_PATH=str(tmp_path / "mappings")
        )
        scraped = run_job(engine, settings, "scrape", {"source": "damaged-feed"})
    file_id = scraped.result.stats["file_id"]
    with engine.connect() as conn:
        url = conn.execute(sa.select(files.c.url).where(files.c.id == file_id)).scalar_one()
    with pytest.raises(JobError, match="is a raw file, not a normalised one"):
        run_job(engine, settings, "ingest", {"file_id": file_id})
    path = Path(url.removeprefix("file://"))
    path.write_bytes(path.read_bytes().replace(b"Listing 3", b"Listing 9"))
    with pytest.raises(JobError, match=r"does not match its SHA-256 in pipeline\.files"):
        run_job(engine, settings, "transform", {"file_id": file_id})
    with engine.connect() as conn:
        kinds = conn.execute(sa.select(files.c.kind)).scalars().all()
    assert kinds == ["raw"]


def test_the_builtin_job_types_are_plugins(tmp_path: Path) -> None:
    env = {"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    types = get_plugin_manager(load_settings(env)).job_types()
    assert {"scrape", "transform", "ingest"} <= set(types)
    assert "next: transform" in types["scrape"].help
    blocked = load_settings(env | {"PIPELINE_DISABLE_PLUGINS": "builtin-pipeline-jobs"})
    assert not {"scrape", "transform", "ingest"} & set(get_plugin_manager(blocked).job_types())


def test_a_dead_workers_scrape_folder_is_swept(tmp_path: Path) -> None:
    # A worker killed outright leaves its dmo-scrape-PID-… folder; the next scrape removes
    # it once it has been untouched for ORPHAN_AGE, and nothing else.
    gone = subprocess.Popen(["true"])
    gone.wait()
    now = time.time()

    def folder(name: str, age: float) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "raw.jsonl").write_text("{}\n")
        for item in (path / "raw.jsonl", path):
            os.utime(item, (now - age, now - age))
        return path

    orphan = folder(f"{FOLDER_PREFIX}{gone.pid}-abc", ORPHAN_AGE + 5)
    recent = folder(f"{FOLDER_PREFIX}{gone.pid}-def", ORPHAN_AGE - 60)
    mine = folder(f"{FOLDER_PREFIX}{os.getpid()}-ghi", ORPHAN_AGE + 5)
    other = folder(f"{FOLDER_PREFIX}x{gone.pid}-jkl", ORPHAN_AGE + 5)
    assert sweep_orphaned_folders(tmp_path, now) == [orphan]
    assert not orphan.exists()
    assert recent.is_dir() and mine.is_dir() and other.is_dir()
    assert sweep_orphaned_folders(tmp_path, now) == []
