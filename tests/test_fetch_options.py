"""Fetcher options are checked when sources load: errors name the file, line and key; a
literal secret in a header is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run_cli

from pipeline_core.config import load_settings
from pipeline_core.db.tables import configs
from pipeline_core.exceptions import MappingError
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import get_source

HEAD = """\
source: checked
dmo: test-dmo
fetcher: {fetcher}
url: https://example.org/feed
"""
FIELDS = """\
id: id
fields:
  name: title
"""


def load(tmp_path: Path, text: str) -> dict[str, object]:
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / "checked.yaml").write_text(text, "utf-8")
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'pipeline.db'}",
            "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
            "PIPELINE_SOURCES_PATH": str(folder),
        }
    )
    found = get_plugin_manager(settings).sources()
    get_source(found, "checked")  # a broken mapping is left out: asking for it raises its error
    return dict(found)


@pytest.mark.parametrize(
    ("fetcher", "extra", "line", "message"),
    [
        (
            "csv_feed",
            "options: {delimeter: ';'}\n",
            5,
            "at options: Additional properties are not allowed ('delimeter' was unexpected) "
            "(see docs/reference/fetchers.md for the keys)",
        ),
        (
            "csv_feed",
            "options:\n  encoding: latin-42\n",
            6,
            "at options.encoding: unknown encoding 'latin-42'",
        ),
        (
            "csv_feed",
            "pagination: {type: cursor}\n",
            5,
            "at pagination.type: fetcher csv_feed does not follow pagination 'cursor' "
            "(it follows: none, page, offset, link_header)",
        ),
        ("xml_feed", "", 1, "at (top level): fetcher xml_feed needs 'records'"),
        (
            "html",
            "options:\n  extract:\n    name: 'h1[[title'\n",
            7,
            "at options.extract.name: not a valid CSS selector: 'h1[[title'",
        ),
        (
            "html",
            "options: {links: '//a[@class=', extract: {name: h1}}\n",
            5,
            "at options.links: not a valid XPath selector: '//a[@class='",
        ),
        ("html", "options: {links: a.item}\n", 5, "at options: 'extract' is a required property"),
        (
            "jsonld",
            "options: {syntaxes: [rdfa]}\n",
            5,
            "at options.syntaxes.0: 'rdfa' is not one of ['json-ld', 'microdata']",
        ),
        (
            "json_api",
            'headers:\n  Authorization: "Bearer abcdef0123456789"\n',
            6,
            "at headers.Authorization: header Authorization holds a literal secret; put it in an "
            "environment variable named DMO_SECRET_TEST_DMO__NAME and write "
            '"${DMO_SECRET_TEST_DMO__NAME}" (for example "Bearer '
            '${DMO_SECRET_TEST_DMO__API_TOKEN}"): secrets never live in mapping files',
        ),
        (
            "json_api",
            "headers: {X-Api-Key: abcdef0123456789}\n",
            5,
            "at headers.X-Api-Key: header X-Api-Key holds a literal secret",
        ),
        (
            "json_api",
            "headers: {X-Auth: Bearer abcdef0123456789}\n",
            5,
            "at headers.X-Auth: header X-Auth holds a literal secret",
        ),
        (
            "json_api",
            'headers:\n  Accept: text/csv\n  X-Trace: "${PIPELINE_DATABASE_URL}"\n',
            7,
            "at headers.X-Trace: header X-Trace references ${PIPELINE_DATABASE_URL}; a mapping "
            "of DMO test-dmo may only use environment variables named DMO_SECRET_TEST_DMO__NAME, "
            "so the pipeline's own settings and other DMOs' secrets never reach a source",
        ),
        (
            "csv_feed",
            'headers: {Authorization: "Bearer ${AWS_SECRET_ACCESS_KEY}"}\n',
            5,
            "at headers.Authorization: header Authorization references ${AWS_SECRET_ACCESS_KEY}",
        ),
        (
            "json_api",
            'headers: {X-A: "${DMO_SECRET_TEST_DMO__A}${lower}"}\n',
            5,
            "at headers.X-A: header X-A references ${lower}",
        ),
    ],
)
def test_option_errors_name_file_line_and_key(
    tmp_path: Path, fetcher: str, extra: str, line: int, message: str
) -> None:
    with pytest.raises(MappingError) as raised:
        load(tmp_path, HEAD.format(fetcher=fetcher) + extra + FIELDS)
    path = tmp_path / "mappings" / "checked.yaml"
    assert str(raised.value).startswith(f"{path}:{line}: {message}")


def test_valid_options_and_headers_load(tmp_path: Path) -> None:
    text = HEAD.format(fetcher="json_api") + (
        'headers: {Authorization: "Bearer ${DMO_SECRET_TEST_DMO__API_TOKEN}", '
        'X-Api-Key: "${DMO_SECRET_TEST_DMO__KEY}", Accept: text/csv}\n'
        "pagination: {type: cursor, path: meta.next}\n"
    )
    assert "checked" in load(tmp_path, text + FIELDS)
    csv = HEAD.format(fetcher="csv_feed") + (
        "options: {encoding: latin-1, delimiter: ';', quotechar: \"'\", skip_lines: 2}\n"
    )
    assert "checked" in load(tmp_path, csv + FIELDS)


def test_a_jsonld_mapping_needs_no_fields_and_no_id(tmp_path: Path) -> None:
    sources = load(tmp_path, HEAD.format(fetcher="jsonld"))
    assert "checked" in sources
    with pytest.raises(MappingError, match="give either 'id' or 'key', not both"):
        load(tmp_path, HEAD.format(fetcher="jsonld") + "id: '@id'\nkey: [name]\n")
    with pytest.raises(MappingError, match="'fields' is a required property"):
        load(tmp_path, HEAD.format(fetcher="csv_feed") + "id: id\n")


def test_a_stored_config_with_a_literal_secret_is_left_out(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        for name, headers in (
            ("leaky", {"Authorization": "Bearer abcdef0123456789"}),
            ("sealed", {"Accept": "application/json"}),
            ("snooping", {"X-Trace": "${PIPELINE_DATABASE_URL}"}),
            # in scope for a mapping file of DMO d, but a stored config names no variable
            ("wants-env", {"Authorization": "Bearer ${DMO_SECRET_D__TOKEN}"}),
        ):
            conn.execute(
                sa.insert(configs).values(
                    name=name,
                    dmo="d",
                    source_type="json_api",
                    base_url="https://example.org/api",
                    scrape_config={"id": "id", "headers": headers},
                    field_mappings={"name": "n"},
                )
            )
    result = run_cli("sources", env=pipeline_env)
    assert result.returncode == 0, result.stderr  # the other sources are still listed
    listed = {line.split()[0] for line in result.stdout.splitlines()}
    assert "sealed" in listed and "leaky" not in listed and "snooping" not in listed
    assert "wants-env" not in listed
    assert (
        "stored configuration left out: pipeline.configs[wants-env]: at headers.Authorization: "
        "header Authorization references ${DMO_SECRET_D__TOKEN}; a stored configuration cannot "
        "name environment variables"
    ) in result.stderr
    assert (
        "stored configuration left out: pipeline.configs[snooping]: at headers.X-Trace: header "
        "X-Trace references ${PIPELINE_DATABASE_URL}"
    ) in result.stderr
    assert pipeline_env["PIPELINE_DATABASE_URL"] not in result.stderr
    assert result.stderr.startswith(
        "stored configuration left out: pipeline.configs[leaky]: at headers.Authorization: "
        "header Authorization holds a literal secret"
    )
    assert "abcdef0123456789" not in result.stdout + result.stderr
