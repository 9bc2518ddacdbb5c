"""Mapping files and stored configurations as untrusted input (issue 15, items 1-4):
bounded-cost YAML, secrets scoped to the mapping's DMO, file: URLs kept to the mapping's
folder, and a broken mapping that takes down only its own source."""

from __future__ import annotations

import http.server
import os
import re
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_cli, run_scrapy
from fetch_helpers import error_rows, staged

from pipeline_core.config import load_settings
from pipeline_core.db.tables import configs
from pipeline_core.exceptions import MappingError
from pipeline_core.mapping import document_from_config_row, load_mapping_file, load_mapping_text
from pipeline_core.mapping.yaml_reader import MAX_DEPTH
from pipeline_core.masking import EXCERPT_LIMIT
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import get_source
from pipeline_core.stages.errors import ErrorSink
from pipeline_core.testing.server import LoopbackHTTPServer

GOOD = """\
source: {name}
dmo: test-dmo
fetcher: json_api
url: {url}
records: data
id: id
fields:
  name: title
  category: {{const: attraction}}
"""

#: About 1 KB: nine levels of anchors, each a list of ten aliases of the one before
#: (10^9 strings once expanded).
BOMB = "\n".join(
    ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
)


def write_feed(folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feed.json").write_bytes(
        orjson.dumps({"data": [{"id": i, "title": f"Title {i}"} for i in ids]})
    )


def settings_for(tmp_path: Path, folder: Path) -> Any:
    return load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'pipeline.db'}",
            "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
            "PIPELINE_SOURCES_PATH": str(folder),
        }
    )


# -- item 1: bounded cost ---------------------------------------------------------------


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(
        GOOD.format(name="bomb", url="https://example.org/f")
        + "x-bomb:\n"
        + "\n".join("  " + line for line in BOMB.splitlines())
        + "\ndefaults: {note: *a8}\n",
        "utf-8",
    )
    assert path.stat().st_size < 1500
    with pytest.raises(MappingError) as raised:
        load_mapping_file(path)
    assert str(raised.value) == (
        f"{path}:12: refused: alias *a0 refused: mapping documents may not use YAML aliases "
        "(or the merge key <<); write the value out"
    )
    # a merge key needs an alias too
    merged = "base: &b {fetcher: json_api}\nother:\n  <<: *b\n"
    with pytest.raises(MappingError, match=r"^m:3: refused: alias \*b refused"):
        load_mapping_text(merged, "m")


def test_depth_and_size_are_capped_for_files_and_stored_configs(tmp_path: Path) -> None:
    deep = "fields:\n  name: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(MappingError) as raised:
        load_mapping_text(deep, "deep.yaml")
    assert str(raised.value) == (
        f"deep.yaml:2: refused: nested deeper than {MAX_DEPTH} levels: a mapping document is "
        "refused beyond that"
    )
    big = tmp_path / "big.yaml"
    big.write_text("description: " + "x" * 1_000_001 + "\n", "utf-8")
    with pytest.raises(MappingError) as raised:
        load_mapping_file(big)
    assert str(raised.value) == f"{big}: refused: the file is larger than 1000000 bytes"

    # a stored configuration's JSON gets the same caps, before the schema is checked
    nested: Any = "title"
    for _ in range(MAX_DEPTH + 10):
        nested = {"x": nested}
    row = {
        "name": "deep-row",
        "dmo": "d",
        "source_type": "json_api",
        "base_url": "https://example.org/api",
        "scrape_config": {"id": "id", "options": nested},
        "field_mappings": {"name": "title"},
        "scrape_frequency": None,
    }
    with pytest.raises(MappingError) as raised:
        document_from_config_row(row)
    assert str(raised.value) == (
        f"pipeline.configs[deep-row]: refused: nested deeper than {MAX_DEPTH} levels: a mapping "
        "document is refused beyond that"
    )
    wide = dict(row, name="wide-row", scrape_config={"id": "id", "notes": ["x" * 1000] * 1001})
    with pytest.raises(MappingError, match=r"^pipeline.configs\[wide-row\]: refused: the document"):
        document_from_config_row(wide)


# -- item 4: a broken mapping takes down only its own source ----------------------------


def test_a_broken_mapping_file_is_left_out_and_fails_only_its_own_crawl(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    write_feed(folder, ["g1", "g2"])
    (folder / "good.yaml").write_text(GOOD.format(name="good", url="feed.json"), "utf-8")
    (folder / "bomb.yaml").write_text(
        GOOD.format(name="bomb", url="feed.json") + "x-bomb:\n  " + BOMB.replace("\n", "\n  "),
        "utf-8",
    )
    (folder / "typo.yaml").write_text(
        GOOD.format(name="typo", url="feed.json").replace("records:", "recrods:"), "utf-8"
    )
    env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))

    found = get_plugin_manager(settings_for(tmp_path, folder)).sources()
    assert "good" in found and "bomb" not in found and "typo" not in found
    assert sorted(found.broken) == ["bomb", "typo"]
    with pytest.raises(MappingError, match="alias \\*a0 refused"):
        get_source(found, "bomb")

    listed = run_cli("sources", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()].count("good") == 1
    assert f"mapping file left out: {folder / 'bomb.yaml'}:" in listed.stderr
    assert "bomb" not in listed.stdout

    checked = run_cli("sources", "--check", env=env)
    assert checked.returncode == 1
    broken = [line for line in checked.stderr.splitlines() if line.startswith("broken: ")]
    assert [line.split(":")[1].strip() for line in broken] == ["bomb", "typo"]
    assert "Error: 2 source(s) cannot be crawled" in checked.stderr

    crawled = run_cli("crawl", "bomb", "--no-progress", env=env)
    assert crawled.returncode == 1
    assert "alias *a0 refused" in crawled.stderr
    scrapy_crawl = run_scrapy("crawl", "typo", env=env)
    assert scrapy_crawl.returncode == 1
    assert f"MappingError: {folder / 'typo.yaml'}:" in scrapy_crawl.stderr
    assert "Spider not found" not in scrapy_crawl.stderr
    crawled = run_cli("crawl", "good", "--no-progress", env=env)
    assert crawled.returncode == 0, crawled.stderr
    assert sorted(staged(engine, "good")) == ["g1", "g2"]


# -- item 2: secrets scoped to the mapping's DMO -----------------------------------------


@pytest.mark.parametrize(
    ("reference", "refused"),
    [
        ("${DMO_SECRET_TEST_DMO__TOKEN}", False),
        ("${DMO_SECRET_TEST_DMO__API_TOKEN_2}", False),
        ("${DMO_SECRET_OTHER_DMO__TOKEN}", True),  # another DMO's secret
        ("${DMO_SECRET_TEST__DMO_TOKEN}", True),  # DMO "test" is not DMO "test-dmo"
        ("${DMO_SECRET_TEST_DMO___TOKEN}", True),  # no name after the double underscore
        ("${DMO_SECRET_TOKEN}", True),  # the old unscoped form
    ],
)
def test_a_mapping_names_only_its_own_dmos_secrets(
    tmp_path: Path, reference: str, refused: bool
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = GOOD.format(name="scoped", url="https://example.org/f")
    (folder / "scoped.yaml").write_text(text + f'headers: {{X-Api-Key: "{reference}"}}\n')
    found = get_plugin_manager(settings_for(tmp_path, folder)).sources()
    assert ("scoped" in found.broken) is refused
    if refused:
        assert found.broken["scoped"].error == (
            f"{folder / 'scoped.yaml'}:10: at headers.X-Api-Key: header X-Api-Key references "
            f"{reference}; a mapping of DMO test-dmo may only use environment variables named "
            "DMO_SECRET_TEST_DMO__NAME, so the pipeline's own settings and other DMOs' secrets "
            "never reach a source"
        )


class _Hop(http.server.BaseHTTPRequestHandler):
    """``/same`` redirects within its origin, ``/away`` to the other server; every
    request's headers are recorded."""

    seen: list[tuple[int, str, dict[str, str]]]
    other: str

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        self.seen.append((port, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path in ("/same", "/away"):
            target = "/feed" if self.path == "/same" else self.other + "/feed"
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        body = orjson.dumps({"data": [{"id": f"r{port}", "title": "T"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_credential_headers_are_dropped_on_a_redirect_to_another_origin(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    seen: list[tuple[int, str, dict[str, str]]] = []
    servers = []
    for _ in range(2):
        handler = type("Hop", (_Hop,), {"seen": seen})
        server = LoopbackHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    first, second = (s.server_address[1] for s in servers)
    servers[0].RequestHandlerClass.other = f"http://127.0.0.1:{second}"  # type: ignore[attr-defined]
    folder = tmp_path / "mappings"
    folder.mkdir()
    headers = (
        'headers: {X-Api-Key: "${DMO_SECRET_TEST_DMO__KEY}", '
        'Authorization: "Bearer ${DMO_SECRET_TEST_DMO__TOKEN}", X-Plain: kept}\n'
    )
    for name, path in (("hop-same", "/same"), ("hop-away", "/away")):
        text = GOOD.format(name=name, url=f"http://127.0.0.1:{first}{path}")
        (folder / f"{name}.yaml").write_text(text + headers, "utf-8")
    env = dict(
        pipeline_env,
        PIPELINE_SOURCES_PATH=str(folder),
        DMO_SECRET_TEST_DMO__KEY="key-0123456789",
        DMO_SECRET_TEST_DMO__TOKEN="token-0123456789",
    )
    try:
        for name in ("hop-same", "hop-away"):
            result = run_cli("crawl", name, "--no-progress", env=env)
            assert result.returncode == 0, result.stderr
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    by_request = {(port, path): headers for port, path, headers in seen}
    assert sorted(by_request) == sorted(
        [(first, "/same"), (first, "/feed"), (first, "/away"), (second, "/feed")]
    )
    for key in ((first, "/same"), (first, "/feed"), (first, "/away")):
        assert by_request[key]["x-api-key"] == "key-0123456789", key
        assert by_request[key]["authorization"] == "Bearer token-0123456789", key
    away = by_request[(second, "/feed")]
    assert "x-api-key" not in away and "authorization" not in away
    assert away["x-plain"] == "kept"
    assert sorted(staged(engine, "hop-away")) == [f"r{second}"]


# -- item 3: file: URLs only under the mapping's folder --------------------------------


def test_file_urls_read_only_the_mappings_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    write_feed(folder / "samples", ["s1"])
    outside = tmp_path / "elsewhere"
    write_feed(outside, ["o1"])
    (folder / "link.json").symlink_to(outside / "feed.json")
    cases = {
        "inside": "samples/feed.json",
        "passwd": "../../../../../../../../etc/passwd",
        "environ": "file:///proc/self/environ",
        "symlink": "link.json",
        "absolute": (outside / "feed.json").as_uri(),
    }
    for name, url in cases.items():
        (folder / f"{name}.yaml").write_text(GOOD.format(name=name, url=url), "utf-8")
    found = get_plugin_manager(settings_for(tmp_path, folder)).sources()
    assert [name for name in found if name in cases] == ["inside"]
    resolved_outside = (outside / "feed.json").resolve()
    assert found.broken["environ"].error == (
        f"{folder / 'environ.yaml'}:4: at url: file:///proc/self/environ: file: URLs never "
        "read /proc"
    )
    assert found.broken["passwd"].error == (
        f"{folder / 'passwd.yaml'}:4: at url: file:///etc/passwd: file: URLs may read only the "
        f"mapping's own folder and PIPELINE_FILE_FOLDERS ({folder.resolve()}); /etc/passwd is "
        "outside them"
    )
    assert found.broken["symlink"].error.endswith(f"; {resolved_outside} is outside them")
    assert found.broken["absolute"].error.endswith(f"; {resolved_outside} is outside them")

    # PIPELINE_FILE_FOLDERS adds a folder, but never /proc
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'pipeline.db'}",
            "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
            "PIPELINE_SOURCES_PATH": str(folder),
            "PIPELINE_FILE_FOLDERS": os.pathsep.join([str(outside), "/proc"]),
        }
    )
    found = get_plugin_manager(settings).sources()
    assert [name for name in found if name in cases] == ["absolute", "inside", "symlink"]


def test_a_crawl_reads_no_file_outside_its_folder_through_a_next_link(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    secret_file = tmp_path / "secret.json"
    secret_file.write_bytes(orjson.dumps({"data": [{"id": "stolen", "title": "x"}]}))
    page = {"data": [{"id": "p1", "title": "Page 1"}], "next": secret_file.as_uri()}
    (folder / "page-1.json").write_bytes(orjson.dumps(page))
    text = GOOD.format(name="walker", url="page-1.json")
    (folder / "walker.yaml").write_text(
        text + "pagination: {type: next_link, path: next}\n", "utf-8"
    )
    result = run_cli(
        "crawl",
        "walker",
        "--no-progress",
        env=dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder)),
    )
    assert result.returncode == 1  # a refused next page: the crawl is not complete
    assert sorted(staged(engine, "walker")) == ["p1"]
    assert "is outside them" in result.stderr


def test_an_error_row_keeps_a_bounded_masked_excerpt(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMO_SECRET_TEST_DMO__TOKEN", "tok-abcdef-123456")
    environ = (
        "HOME=/root\x00DMO_SECRET_TEST_DMO__TOKEN=tok-abcdef-123456\x00"
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\x00"
        "PIPELINE_DATABASE_URL=postgresql://app:hunter22@db/pipeline\x00" + "PATH=/bin:" * 100
    )
    sink = ErrorSink("leaky")
    sink.add("map", "bad value", external_id="r1", field="name", value=environ)
    with engine.begin() as conn:
        sink.flush(conn)
    (row,) = error_rows(engine, "leaky")
    value = row["value"]
    assert value.startswith(
        "'HOME=/root\\x00DMO_SECRET_TEST_DMO__TOKEN=***\\x00AWS_SECRET_ACCESS_KEY=***\\x00"
        "PIPELINE_DATABASE_URL=postgresql://***@db/pipeline\\x00PATH=/bin:"
    )
    assert re.fullmatch(r"… \(\d{4} characters\)", value[EXCERPT_LIMIT:])
    for secret in ("tok-abcdef-123456", "wJalrXUtnFEMI", "hunter22"):
        assert secret not in value


def test_a_stored_config_row_cannot_name_a_file(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(configs).values(
                name="sneaky",
                dmo="d",
                source_type="json_api",
                base_url="file:///etc/passwd",
                scrape_config={"id": "id"},
                field_mappings={"name": "n"},
            )
        )
        row = conn.execute(sa.select(configs).where(configs.c.name == "sneaky")).mappings().one()
    with pytest.raises(MappingError, match="needs an absolute http\\(s\\) URL"):
        document_from_config_row(dict(row))
