"""``dmo-pipeline preview``: raw beside mapped values, errors beside their field, no writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT, run_cli

from pipeline_core.cli import _print_preview
from pipeline_core.db.tables import configs, metadata
from pipeline_core.mapping import load_mapping_file
from pipeline_core.scrapy.preview import PreviewSession
from pipeline_core.testing import FeedServer

TUTORIAL = ROOT / "docs" / "examples" / "tutorial"
DOCS = ROOT / "docs"


def _text_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text("utf-8")
    return [b.split("```", 1)[0] for b in text.split("```text\n")[1:]]


def _env(tmp_path: Path, folder: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(PIPELINE_HOME=str(tmp_path / "home"), PIPELINE_SOURCES_PATH=str(folder))
    return env


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_preview_shows_raw_and_mapped_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "harbourtown"
    shutil.copytree(TUTORIAL, folder)
    work = tmp_path / "work"
    work.mkdir()
    before = _tree(tmp_path)

    result = run_cli("preview", "harbourtown", env=_env(tmp_path, folder), cwd=work)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"record 1001  ok  {(folder / 'feed' / 'page-1.json').as_uri()}"
    assert lines[1].split() == ["field", "from", "raw", "mapped"]
    assert lines[8].split() == ["location.latitude", "lat", '"53,2707"', "53.2707"]
    assert lines[11].split() == [
        "contact.website",
        "web",
        '"www.Example.org/lighthouse"',
        '"https://www.example.org/lighthou…',
    ]
    assert lines[-1] == (
        "harbourtown: 5 records previewed, 5 valid, 0 invalid, 0 page errors; nothing was written"
    )
    assert _tree(tmp_path) == before  # no database, no file

    # The tutorial shows the first record as `preview --limit 1` prints it.
    one = run_cli("preview", "harbourtown", "--limit", "1", env=_env(tmp_path, folder), cwd=work)
    assert one.returncode == 0, one.stderr
    shown = one.stdout.replace(str(folder), "/tmp/harbourtown")
    assert shown in _text_blocks("tutorial.md")


def test_preview_puts_the_error_beside_its_field_and_fails(tmp_path: Path) -> None:
    folder = tmp_path / "harbourtown"
    shutil.copytree(TUTORIAL, folder)
    shutil.copy(folder / "updated" / "page-2.json", folder / "feed" / "page-2.json")

    result = run_cli("preview", "harbourtown", env=_env(tmp_path, folder), cwd=tmp_path)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    at = lines.index(f"record 1006  INVALID  {(folder / 'feed' / 'page-2.json').as_uri()}")
    row = next(ln for ln in lines[at:] if ln.lstrip().startswith("location.latitude"))
    assert row.split("!!")[0].split() == ["location.latitude", "lat", '"95.27"', "95.27"]
    assert row.split("!! ")[1] == "validate: 95.27 is greater than the maximum of 90"
    assert sum("!!" in ln for ln in lines) == 1
    # The tutorial and the reference show that line and the summary as printed.
    for page in ("tutorial.md", "reference/cli.md"):
        (block,) = [b for b in _text_blocks(page) if "record 1006  INVALID" in b]
        assert row + "\n" in block
        assert lines[-1] + "\n" in block
    (full,) = [b for b in _text_blocks("reference/cli.md") if "record 1006  INVALID" in b]
    at_end = "\n".join(lines[at:]).replace(str(folder), "/tmp/harbourtown") + "\n"
    assert full == "$ dmo-pipeline preview harbourtown\n…\n" + at_end
    assert lines[-1] == (
        "harbourtown: 5 records previewed, 4 valid, 1 invalid, 0 page errors; nothing was written"
    )


def test_preview_map_error_json_and_limit(tmp_path: Path) -> None:
    folder = tmp_path / "harbourtown"
    shutil.copytree(TUTORIAL, folder)
    page = json.loads((folder / "feed" / "page-1.json").read_text("utf-8"))
    page["items"][0]["lat"] = "north"
    (folder / "feed" / "page-1.json").write_text(json.dumps(page), "utf-8")

    result = run_cli(
        "preview", "harbourtown", "--json", "--limit", "2", env=_env(tmp_path, folder), cwd=tmp_path
    )

    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["source"], document["previewed"], document["invalid"]) == ("harbourtown", 2, 1)
    assert [r["external_id"] for r in document["records"]] == ["1001", "1002"]
    first = document["records"][0]
    assert first["valid"] is False
    latitude = next(f for f in first["fields"] if f["field"] == "location.latitude")
    assert latitude["from"] == "lat"
    assert latitude["raw"] == "north"
    assert latitude["mapped"] is None
    assert len(latitude["errors"]) == 1
    assert latitude["errors"][0].startswith("map: ")
    assert "north" in latitude["errors"][0]
    assert document["records"][1]["valid"] is True


def test_preview_of_a_stored_config_leaves_the_database_as_it_was(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    doc = load_mapping_file(TUTORIAL / "harbourtown.yaml")
    with FeedServer(folder=TUTORIAL / "feed") as server:
        row = doc.to_config_row() | {
            "name": "stored-harbour",
            "base_url": server.url("/page-1.json"),
        }
        with engine.begin() as conn:
            conn.execute(configs.insert().values(**row))
        before = every_row(engine)

        result = run_cli(
            "preview", "stored-harbour", "--limit", "3", env=pipeline_env, cwd=tmp_path
        )

        assert server.requests[0] == "/page-1.json"
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "stored-harbour: 3 records previewed, 3 valid, 0 invalid, 0 page errors; "
        "nothing was written"
    )
    assert every_row(engine) == before  # not one row added, changed or deleted


def every_row(engine: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table of the schema, as text, sorted: the database as it is."""
    with engine.connect() as conn:
        return {
            table.fullname: sorted(repr(tuple(row)) for row in conn.execute(sa.select(table)))
            for table in metadata.sorted_tables
        }


def test_an_unreadable_record_is_shown_as_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    """A fetcher that cannot read a record (a ragged CSV row) reports it to the preview."""
    session = PreviewSession()
    session.record_error(
        "line 3: 3 fields where the header has 14; the row is not read",
        "file:///feed.csv",
        external_id="102",
        field="line 3",
        value="102;restaurant;Ferry House",
    )
    session.record_error("no id", "file:///feed.csv")

    _print_preview("sample", session)

    assert capsys.readouterr().out.splitlines() == [
        "record 102  INVALID  file:///feed.csv",
        "  !! fetch: line 3: 3 fields where the header has 14; the row is not read "
        "(value '102;restaurant;Ferry House')",
        "",
        "record ?  INVALID  file:///feed.csv",
        "  !! (record): fetch: no id",
        "",
        "sample: 2 records previewed, 0 valid, 2 invalid, 0 page errors; nothing was written",
    ]
