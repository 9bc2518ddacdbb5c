"""Stored configurations over the API as YAML or JSON text: an error names the key and its
line (and column), as ``dmo-pipeline sources --check`` names a mapping file's; GET answers
YAML to ``Accept: application/yaml``, and that text can be PUT back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_kit import PREFIX, app_maker, bearer, http_client, mapping_doc

from pipeline_core.operations.keys import create_key

GOOD_YAML = """\
source: lake-yaml
dmo: d
fetcher: json_api
url: http://127.0.0.1:9/feed.json
records: data
id: id
fields:
  name: title
  category: {const: attraction}
  description: {from: body, transform: html_text}
"""


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _client(make_app: Any) -> tuple[Any, dict[str, str]]:
    app = make_app()
    return http_client(app), bearer(create_key(app.state.api.engine, role="admin")[1])


def _post_yaml(client: Any, admin: dict[str, str], text: str, kind: str = "application/yaml"):
    return client.post(
        PREFIX + "/configs", content=text.encode(), headers=admin | {"Content-Type": kind}
    )


def test_a_yaml_config_is_stored_and_read_back_as_yaml(make_app: Any) -> None:
    client, admin = _client(make_app)
    created = _post_yaml(client, admin, GOOD_YAML)
    assert created.status_code == 201, created.text
    assert created.json()["document"]["fields"]["description"] == {
        "from": "body",
        "transform": "html_text",
    }
    as_json = client.get(PREFIX + "/configs/lake-yaml", headers=admin)
    assert as_json.headers["content-type"] == "application/json"
    as_yaml = client.get(
        PREFIX + "/configs/lake-yaml", headers=admin | {"Accept": "application/yaml"}
    )
    assert as_yaml.status_code == 200
    assert as_yaml.headers["content-type"] == "application/yaml"
    assert as_yaml.text.splitlines()[:4] == [
        "source: lake-yaml",
        "dmo: d",
        "fetcher: json_api",
        "url: http://127.0.0.1:9/feed.json",
    ]
    assert yaml.safe_load(as_yaml.text) == as_json.json()["document"]
    # the YAML answer, edited, goes back with PUT (text/yaml is accepted too)
    edited = as_yaml.text.replace("records: data", "records: items")
    put = client.put(
        PREFIX + "/configs/lake-yaml",
        content=edited.encode(),
        headers=admin | {"Content-Type": "text/yaml; charset=utf-8"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["document"]["records"] == "items"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_yaml_error_names_the_key_and_its_line(make_app: Any) -> None:
    client, admin = _client(make_app)
    bad = GOOD_YAML.replace("records: data\n", "records: data\npagination: {type: sideways}\n")
    answer = _post_yaml(client, admin, bad)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail.startswith("pipeline.configs[lake-yaml]:6: at pagination.type: 'sideways' is ")
    assert answer.json()["errors"] == [
        {"in": "body", "name": "pagination.type", "detail": detail, "line": 6, "column": 20}
    ]
    # a compile error (a transform's argument), named as sources --check names it
    wrong = GOOD_YAML.replace("transform: html_text", "transform: {html_text: {lang: es}}")
    answer = _post_yaml(client, admin, wrong)
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "pipeline.configs[lake-yaml]:10: at description.transform: transform 'html_text' "
        "has no argument 'lang' (it takes: none)"
    )
    assert answer.json()["errors"][0]["line"] == 10
    # a fetcher's need and a header rule: the same format
    answer = _post_yaml(client, admin, GOOD_YAML + "headers: {X-Key: '${PIPELINE_DATABASE_URL}'}\n")
    assert answer.json()["detail"].startswith(
        "pipeline.configs[lake-yaml]:11: at headers.X-Key: header X-Key references "
    )
    # what YAML reads but JSON cannot hold: a date, a key that is not text
    answer = _post_yaml(
        client, admin, GOOD_YAML.replace("  name: title", "  name: {const: 2026-05-01}")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "pipeline.configs[lake-yaml]:8: at fields.name.const: datetime.date(2026, 5, 1) is not "
        "a JSON value; write it in quotes to keep it as text"
    )
    answer = _post_yaml(client, admin, GOOD_YAML + "defaults: {1: x}\n")
    assert answer.json()["detail"] == (
        "pipeline.configs[lake-yaml]:11: at defaults.1: the key 1 is not text; write it in quotes"
    )
    # broken YAML and YAML beyond the reader's bounds: the line, nothing stored
    answer = _post_yaml(client, admin, GOOD_YAML + "fields: [\n")
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        "YAML body:12: not valid YAML: expected the node content"
    )
    answer = _post_yaml(client, admin, "a: &x [1]\nb: *x\n")
    assert answer.json()["detail"] == (
        "YAML body:2: refused: alias *x refused: mapping documents may not use YAML aliases "
        "(or the merge key <<); write the value out"
    )
    assert client.get(PREFIX + "/configs", headers=admin).json() == {"items": []}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_json_error_names_the_key_its_line_and_column(make_app: Any) -> None:
    client, admin = _client(make_app)
    bad = mapping_doc("feed-x", "d") | {"pagination": {"type": "sideways"}}
    text = json.dumps(bad)
    answer = client.post(
        PREFIX + "/configs", content=text, headers=admin | {"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    column = text.index('"sideways"') + 1
    detail = answer.json()["detail"]
    assert detail.startswith(f"pipeline.configs[feed-x]:1:{column}: at pagination.type: ")
    assert answer.json()["errors"][0] | {"detail": ""} == {
        "in": "body",
        "name": "pagination.type",
        "detail": "",
        "line": 1,
        "column": column,
    }
    # indented JSON with tabs: its own line
    pretty = json.dumps(bad, indent="\t")
    line = pretty.splitlines().index('\t\t"type": "sideways"') + 1
    answer = client.post(PREFIX + "/configs", content=pretty, headers=admin)
    assert answer.json()["errors"][0]["line"] == line
    assert answer.json()["errors"][0]["column"] == 11
    # a JSON syntax error names its line and column (the parser's own position)
    answer = client.post(PREFIX + "/configs", content='{\n"source": }', headers=admin)
    assert answer.status_code == 422
    assert "line 2 column 11" in answer.json()["detail"]
    # a YAML body to a route that takes only JSON is read as JSON
    answer = client.post(
        PREFIX + "/queue",
        content=b"type: noop\n",
        headers=admin | {"Content-Type": "application/yaml"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("body (body): not JSON: ")
