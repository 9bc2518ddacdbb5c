"""The docs are checked against the code: every hook, setting, command, mapping key,
pagination type, transform and table is documented in its reference page; the examples
in the pages are run (transform tables, hook implementations, the tutorial end to end);
relative links point at files and headings that exist.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import types
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest
import sqlalchemy as sa
from conftest import ROOT, run_cli, run_scrapy

import pipeline_core.scrapy.settings as scrapy_settings
from pipeline_core import hookspecs
from pipeline_core.builtin.json_api import register_fetchers as builtin_fetchers
from pipeline_core.cli import main
from pipeline_core.config import SETTINGS, load_settings
from pipeline_core.db import metadata
from pipeline_core.db.tables import errors, staging
from pipeline_core.exceptions import MappingError
from pipeline_core.mapping import CompiledMapping, load_mapping_file, mapping_schema
from pipeline_core.model import listing_schema, validate_record
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.scrapy.fetcher import FetcherSpider
from pipeline_core.transforms import Transform, TransformContext

DOCS = ROOT / "docs"
TUTORIAL_DIR = DOCS / "examples" / "tutorial"
TUTORIAL_MAPPING = TUTORIAL_DIR / "harbourtown.yaml"


# ------------------------------------------------------------------ markdown helpers


def page(name: str) -> str:
    return (DOCS / name).read_text("utf-8")


def _without_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text without backticks) of every heading outside code blocks."""
    found = re.findall(r"^(#{1,6}) +(.+?) *$", _without_fences(text), flags=re.MULTILINE)
    return [(len(hashes), title.replace("`", "")) for hashes, title in found]


def heading_titles(text: str) -> set[str]:
    return {title for _, title in headings(text)}


def code_spans(text: str) -> set[str]:
    """Every inline code span (`...`) outside code blocks."""
    return {folded(span) for span in re.findall(r"`([^`]+)`", _without_fences(text))}


def section(text: str, title: str) -> str:
    """The text under the heading ``title`` (backticks ignored) up to the next heading of
    the same or a higher level."""
    lines = text.splitlines()
    in_fence = False
    start = level = None
    for number, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else re.match(r"^(#{1,6}) +(.+?) *$", line)
        if not match:
            continue
        here = len(match[1])
        if start is None and match[2].replace("`", "") == title:
            start, level = number, here
        elif start is not None and level is not None and here <= level:
            return "\n".join(lines[start:number])
    assert start is not None, f"no heading {title!r}"
    return "\n".join(lines[start:])


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def folded(text: str) -> str:
    return " ".join(text.split())


def slug(title: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(text):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


# ------------------------------------------------------------------ reference pages


HOOK_NAMES = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "dmo_pipeline_spec")
)


def test_the_hookspecs_are_found() -> None:
    assert {
        "crawl_finished",
        "records_staged",
        "register_fetchers",
        "register_job_types",
        "register_sources",
        "register_transforms",
    } <= set(HOOK_NAMES)


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_hook_is_documented_with_its_signature_and_an_example(name: str) -> None:
    text = page("reference/hooks.md")
    assert name in heading_titles(text), f"docs/reference/hooks.md has no heading for {name}"
    signature = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    expected = f"{name}({params}) -> {signature.return_annotation}"
    body = section(text, name)
    assert expected in body, f"the section of {name} does not show {expected}"
    examples = code_blocks(body, "python")
    assert any(re.search(rf"^def {name}\(", block, re.MULTILINE) for block in examples)


def _example_plugins(tmp_path: Path) -> list[types.ModuleType]:
    modules = []
    for number, block in enumerate(code_blocks(page("reference/hooks.md"), "python")):
        module = types.ModuleType(f"docs_hooks_example_{number}")
        module.__file__ = str(tmp_path / f"example_{number}.py")
        exec(compile(block, module.__file__, "exec"), module.__dict__)
        modules.append(module)
    return modules


def test_hook_examples_are_valid_plugins(tmp_path: Path) -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    implemented: set[str] = set()
    for module in _example_plugins(tmp_path):
        pm.register(module)  # raises when an argument is not one of the hook's
        implemented |= {caller.name for caller in pm.get_hookcallers(module) or []}
    pm.check_pending()  # raises when a function names a hook that does not exist
    assert implemented == set(HOOK_NAMES)

    (fetcher,) = pm.hook.register_fetchers()[0]
    assert issubclass(fetcher, FetcherSpider)
    assert fetcher.fetcher_name == "ndjson"
    (phone,) = pm.hook.register_transforms()[0]
    assert isinstance(phone, Transform)
    assert phone.wants_context
    context = TransformContext("harbourtown", {"phone_region": "IE"})
    assert phone.func("091 555 0100", context=context) == "+353 91 555 0100"
    assert phone.func("091 555 0100", context=context, region="GB") == "+44 91 555 0100"
    assert "`091 555 0100` into `+353 91 555 0100`" in folded(page("reference/hooks.md"))


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: Any) -> None:
    text = page("reference/settings.md")
    assert setting.name in heading_titles(text)
    body = folded(section(text, setting.name))
    assert folded("Help: " + setting.help) in body, f"help of {setting.name} differs"
    if not callable(setting.default):
        shown = f"`{setting.default}`" if setting.default else "empty"
        assert f"Default: {shown}." in body


def test_the_scrapy_settings_dmo_pipeline_sets_are_documented() -> None:
    text = page("reference/settings.md")
    names = [name for name in vars(scrapy_settings) if name.isupper()]
    assert "PIPELINE_PROGRESS_INTERVAL" in names
    for name in names:
        value = getattr(scrapy_settings, name)
        if name in ("LOG_LEVEL", "ITEM_PIPELINES"):
            assert f"| `{name}` |" in text
            continue
        shown = json.dumps(value) if isinstance(value, list | dict) else str(value)
        assert f"| `{name}` | `{shown}` |" in text, f"{name} = {shown} is not documented"
    pipelines = section(text, "ITEM_PIPELINES")
    for path, order in scrapy_settings.ITEM_PIPELINES.items():
        assert f"| `{path}` | {order} |" in pipelines
    assert "PIPELINE_PROGRESS_INTERVAL" in heading_titles(text)


def _commands() -> list[tuple[str, click.Command]]:
    return sorted(main.commands.items())


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_every_command_and_option_is_documented(name: str) -> None:
    text = page("reference/cli.md")
    title = f"dmo-pipeline {name}"
    assert title in heading_titles(text)
    body = section(text, title)
    spans = {span.split()[0] for span in code_spans(body)}
    for param in main.commands[name].params:
        if isinstance(param, click.Argument):
            assert param.metavar in spans, f"{title}: argument {param.metavar} not documented"
        else:
            for opt in param.opts:
                assert opt in spans, f"{title}: option {opt} not documented"


def _subcommands() -> list[tuple[str, click.Command]]:
    return [
        (f"{name} {sub}", command)
        for name, group in _commands()
        if isinstance(group, click.Group)
        for sub, command in sorted(group.commands.items())
    ]


def test_the_queue_subcommands_are_found() -> None:
    assert [name for name, _ in _subcommands()] == [
        "configs rotate-credentials",
        "configs set-credential",
        "keys create",
        "keys list",
        "keys revoke",
        "queue add",
        "queue list",
        "queue process",
        "queue relay",
        "queue retry",
        "queue show",
    ]


@pytest.mark.parametrize("name", [name for name, _ in _subcommands()])
def test_every_subcommand_and_option_is_documented(name: str) -> None:
    text = page("reference/cli.md")
    title = f"dmo-pipeline {name}"
    assert title in heading_titles(text)
    body = section(text, title)
    spans = {span.split()[0] for span in code_spans(body)}
    for param in dict(_subcommands())[name].params:
        if isinstance(param, click.Argument):
            assert param.metavar in spans, f"{title}: argument {param.metavar} not documented"
        else:
            for opt in param.opts:
                assert opt in spans, f"{title}: option {opt} not documented"


def test_the_cli_help_shown_is_the_real_one(tmp_path: Path) -> None:
    text = page("reference/cli.md")
    shown = next(b for b in code_blocks(text, "text") if b.startswith("$ dmo-pipeline --help"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(COLUMNS="80", PIPELINE_HOME=str(tmp_path))  # as in an 80-column terminal
    result = run_cli("--help", env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout.replace("python -m pipeline_core.cli", "dmo-pipeline", 1)
    assert shown.split("\n", 1)[1] == output
    for opt in ("--version", "--help"):
        assert f"`{opt}`" in section(text, "Command line")


def test_the_settings_output_shown_lists_every_setting_in_order() -> None:
    text = page("reference/cli.md")
    shown = next(b for b in code_blocks(text, "text") if "dmo-pipeline settings\n" in b)
    names = [line.split("=", 1)[0] for line in shown.splitlines()[1:] if "=" in line]
    assert names[: len(SETTINGS)] == [s.name for s in SETTINGS]


def _field_spec_keys() -> list[str]:
    spec = mapping_schema()["$defs"]["field"]["oneOf"][1]
    return sorted(spec["properties"])


def test_the_field_spec_keys_are_found() -> None:
    keys = ("from", "const", "default", "transform", "map", "map_default", "each", "fields")
    assert {*keys, "required"} <= set(_field_spec_keys())


@pytest.mark.parametrize("key", sorted(mapping_schema()["properties"]))
def test_every_top_level_mapping_key_is_documented(key: str) -> None:
    text = page("reference/mapping.md")
    assert key in heading_titles(text), f"mapping.md has no heading for the key {key}"
    assert f"| `{key}` |" in section(text, "Top-level keys")


@pytest.mark.parametrize("key", _field_spec_keys())
def test_every_field_spec_key_is_documented(key: str) -> None:
    text = page("reference/mapping.md")
    assert f"| `{key}` |" in section(text, "Field specs")
    assert key in heading_titles(section(text, "Field specs"))


def test_mapping_sub_keys_are_documented() -> None:
    schema = mapping_schema()["properties"]
    spans = code_spans(page("reference/mapping.md"))
    for key in [*schema["defaults"]["properties"], *schema["licence"]["properties"]]:
        assert key in spans, f"mapping.md does not name {key}"
    canonical = section(page("reference/mapping.md"), "The canonical listing")
    for field in listing_schema()["properties"]:
        assert f"`{field}`" in canonical, f"canonical field {field} is not documented"
    for category in listing_schema()["properties"]["category"]["enum"]:
        assert f"`{category}`" in canonical


def _pagination() -> dict[str, Any]:
    schema: dict[str, Any] = mapping_schema()["properties"]["pagination"]
    return schema


@pytest.mark.parametrize("kind", _pagination()["properties"]["type"]["enum"])
def test_every_pagination_type_is_documented(kind: str) -> None:
    assert f"| `{kind}` |" in section(page("reference/fetchers.md"), "Pagination")
    assert f"`{kind}`" in section(page("reference/mapping.md"), "pagination")


def _builtin_fetchers() -> list[type]:
    fetchers = get_plugin_manager().fetchers().values()
    return sorted(
        (f for f in fetchers if f.__module__.startswith("pipeline_core.")),
        key=lambda f: f.fetcher_name,
    )


def test_every_pagination_option_and_fetcher_is_documented() -> None:
    text = page("reference/fetchers.md")
    for option in _pagination()["properties"]:
        assert f"| `{option}` |" in section(text, "Pagination")
    names = {fetcher.fetcher_name for fetcher in _builtin_fetchers()}
    assert {f.fetcher_name for f in builtin_fetchers()} <= names
    assert names == {"json_api", "xml_feed", "csv_feed", "html", "jsonld", "upload"}
    for name in names:
        assert name in heading_titles(text)


@pytest.mark.parametrize("fetcher", _builtin_fetchers(), ids=lambda f: f.fetcher_name)
def test_every_fetcher_option_and_pagination_is_documented(fetcher: type) -> None:
    body = section(page("reference/fetchers.md"), fetcher.fetcher_name)
    schema = fetcher.options_schema
    assert schema is not None, f"{fetcher.fetcher_name} does not declare its options"
    options = sorted(schema["properties"])
    if options:
        assert "Options:" in body
    else:
        assert "takes no `options`" in body
    for option in options:
        assert f"| `{option}` |" in body, f"{fetcher.fetcher_name}: option {option}"
    kinds = fetcher.pagination_types
    assert kinds is not None
    (row,) = [line for line in body.splitlines() if line.startswith("| `pagination` |")]
    if set(kinds) == set(_pagination()["properties"]["type"]["enum"]):
        assert "every type" in row
    else:
        assert all(f"`{kind}`" in row for kind in kinds), (fetcher.fetcher_name, row)
    for key in fetcher.required_keys:
        assert f"| `{key}` | required" in body


def test_the_jsonld_transforms_are_documented() -> None:
    from pipeline_core.builtin.schema_org import TRANSFORMS as SCHEMA_TRANSFORMS

    body = section(page("reference/fetchers.md"), "jsonld")
    for transform in SCHEMA_TRANSFORMS:
        assert f"| `{transform.name}` |" in body


TRANSFORMS = {
    name: transform
    for name, transform in get_plugin_manager(load_settings({})).transforms().items()
    if transform.func.__module__.startswith("pipeline_core.builtin.")
    # The jsonld fetcher's own transforms are documented with it (fetchers.md, checked above).
    and transform.func.__module__ != "pipeline_core.builtin.schema_org"
}
_ROW = re.compile(r"^\| `(?P<value>.+?)` \| (?:`(?P<args>.+?)`)? *\| (?P<result>.+?) \|$")


def _transform_examples(name: str) -> list[tuple[Any, dict[str, Any], str]]:
    body = section(page("reference/transforms.md"), name)
    rows = []
    for line in body.splitlines():
        match = _ROW.match(line)
        if match:
            args = json.loads(match["args"]) if match["args"] else {}
            rows.append((json.loads(match["value"]), args, match["result"]))
    return rows


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_builtin_transform_is_documented_with_examples_that_hold(name: str) -> None:
    assert name in heading_titles(page("reference/transforms.md"))
    examples = _transform_examples(name)
    assert examples, f"transforms.md has no example for {name}"
    func = TRANSFORMS[name].func
    for value, args, result in examples:
        if result.startswith("ValueError: "):
            with pytest.raises(ValueError) as raised:
                func(value, **args)
            assert str(raised.value) == result.removeprefix("ValueError: ")
            continue
        expected = json.loads(result.strip("`"))
        got = func(value, **args)
        assert got == expected and type(got) is type(expected), (name, value, args, got)


def test_every_table_is_documented() -> None:
    text = page("reference/database.md")
    titles = heading_titles(text)
    spans = code_spans(text)
    for table in metadata.tables.values():
        if table.schema in ("staging", "production") and table.name != "promotions":
            assert table.name in titles | spans, f"{table.fullname} is not documented"
        else:
            assert any(table.fullname in title for title in titles), table.fullname


def test_decisions_are_numbered_in_order() -> None:
    numbers = [int(m) for m in re.findall(r"^## (\d+)\. ", page("decisions.md"), re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 16


# ------------------------------------------------------------------ links


def _links(path: Path) -> list[str]:
    text = _without_fences(path.read_text("utf-8"))
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_every_relative_link_points_at_an_existing_file_and_heading() -> None:
    pages = sorted(DOCS.rglob("*.md"))
    assert len(pages) >= 10
    checked = 0
    for path in pages:
        for link in _links(path):
            if re.match(r"^[a-z]+:", link):
                continue
            target, _, fragment = link.partition("#")
            resolved = (path.parent / target).resolve() if target else path
            assert resolved.exists(), f"{path.relative_to(ROOT)}: broken link {link}"
            if fragment and resolved.suffix == ".md":
                found = anchors(resolved.read_text("utf-8"))
                assert fragment in found, f"{path.relative_to(ROOT)}: no heading for {link}"
            checked += 1
    assert checked > 40


# ------------------------------------------------------------------ the tutorial


def _feed_records(*pages: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for name in pages:
        records.extend(json.loads((TUTORIAL_DIR / name).read_text("utf-8"))["items"])
    return records


def _mapped(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    doc = load_mapping_file(TUTORIAL_MAPPING)
    mapping = CompiledMapping(doc, get_plugin_manager().transforms())
    return {str(record["id"]): mapping.apply(record) for record in records}


def test_the_tutorial_shows_its_mapping_file_and_feed() -> None:
    text = page("tutorial.md")
    assert TUTORIAL_MAPPING.read_text("utf-8") in code_blocks(text, "yaml")
    (excerpt,) = [b for b in code_blocks(text, "json") if '"items"' in b]
    feed_lines = set((TUTORIAL_DIR / "feed" / "page-1.json").read_text("utf-8").splitlines())
    for line in excerpt.splitlines():
        assert line.strip() == "…" or line in feed_lines, line


def test_the_tutorial_mapping_loads() -> None:
    doc = load_mapping_file(TUTORIAL_MAPPING)
    assert (doc.source, doc.dmo, doc.fetcher) == ("harbourtown", "visit-harbourtown", "json_api")
    assert doc.resolved_url() == (TUTORIAL_DIR / "feed" / "page-1.json").resolve().as_uri()
    assert doc.doc["pagination"] == {"type": "next_link", "path": "next"}


def test_the_tutorial_records_map_to_what_the_tutorial_shows() -> None:
    mapped = _mapped(_feed_records("feed/page-1.json", "feed/page-2.json"))
    assert sorted(mapped) == ["1001", "1002", "1003", "1004", "1005"]
    lighthouse = mapped["1001"]
    assert lighthouse["name"] == {"en": "Harbourtown Lighthouse"}
    assert lighthouse["description"] == {
        "en": "Climb the 120 steps for a view of the bay.\nGuided tours & a small café."
    }
    assert lighthouse["location"]["latitude"] == 53.2707
    assert lighthouse["location"]["country"] == "IE"
    assert lighthouse["contact"]["website"] == "https://www.example.org/lighthouse"
    assert lighthouse["attributes"] == {"tags": ["views", "family", "history"]}
    assert lighthouse["opening_hours"] == [
        {"weekday": 0, "opens": "10:00", "closes": "17:00"},
        {"weekday": 5, "opens": "09:30", "closes": "18:00"},
    ]
    text = page("tutorial.md")
    shown = text.split("<!-- test: mapped 1001 -->\n```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == lighthouse
    assert mapped["1002"]["opening_hours"] == [{"weekday": 4, "opens": "12:00", "closes": "22:00"}]
    assert "contact" not in mapped["1003"] and "description" not in mapped["1003"]
    assert mapped["1004"]["category"] == "event"
    assert mapped["1004"]["opening_dates"] == [{"date": "2027-07-16", "end_date": "2027-07-18"}]
    assert mapped["1005"]["category"] == "attraction"
    for record in mapped.values():
        assert validate_record(record) == []


def test_the_tutorial_update_has_exactly_one_invalid_record() -> None:
    mapped = _mapped(_feed_records("feed/page-1.json", "updated/page-2.json"))
    assert sorted(mapped) == ["1001", "1002", "1003", "1004", "1006"]
    assert mapped["1004"]["opening_dates"] == [{"date": "2027-07-15", "end_date": "2027-07-18"}]
    invalid = {ext: validate_record(record) for ext, record in mapped.items()}
    assert {ext for ext, issues in invalid.items() if issues} == {"1006"}
    ((field, message),) = [(i.field, i.message) for i in invalid["1006"]]
    assert (field, message) == ("location.latitude", "95.27 is greater than the maximum of 90")


def test_the_tutorial_typo_gives_the_error_shown(tmp_path: Path) -> None:
    folder = tmp_path / "harbourtown"
    folder.mkdir()
    typo = TUTORIAL_MAPPING.read_text("utf-8").replace(
        "location.latitude: {from: lat, transform: float}",
        "location.latitude: {from: lat, transfrom: float}",
    )
    (folder / "harbourtown.yaml").write_text(typo, "utf-8")
    with pytest.raises(MappingError) as raised:
        load_mapping_file(folder / "harbourtown.yaml")
    message = str(raised.value).replace(str(folder), "/tmp/harbourtown")
    assert f"broken: harbourtown: {message}\nError: 1 source(s) cannot be crawled\n" in page(
        "tutorial.md"
    )


def _staging_rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: sorted(tuple(row) for row in conn.execute(sa.select(table)).all())
            for name, table in staging.items()
        }


# The tutorial's reader runs it on the embedded default (SQLite); the crawl, re-crawl and
# withdrawal it walks through run on PostgreSQL too in test_end_to_end.py.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_tutorial_end_to_end(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    text = page("tutorial.md")
    folder = tmp_path / "harbourtown"
    shutil.copytree(TUTORIAL_DIR, folder)
    env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))

    # 3. check it
    listed = run_cli("sources", env=env)
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("harbourtown "))
    assert line.split() == [
        "harbourtown",
        "visit-harbourtown",
        "json_api",
        str(folder / "harbourtown.yaml"),
    ]

    # 4. scrapy crawl: five inserted
    first = run_scrapy("crawl", "harbourtown", env=env)
    assert first.returncode == 0, first.stderr
    finished = (
        "harbourtown: crawl finished (finished): scraped 5, inserted 5, updated 0, "
        "unchanged 0, invalid 0, duplicates 0, withdrawn 0"
    )
    assert finished in first.stderr and finished in text
    for stat in ("'dmo/complete': True", "'dmo/rows_written': 28", "'dmo/inserted': 5"):
        assert stat in first.stderr and stat in text
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(staging["listings"].c.record).where(
                staging["listings"].c.external_id == "1001"
            )
        ).scalar_one()
    shown = text.split("<!-- test: mapped 1001 -->\n```json\n", 1)[1].split("```", 1)[0]
    assert stored == json.loads(shown)

    # 5. unchanged re-crawl: nothing written to staging
    before = _staging_rows(engine)
    second = run_cli("crawl", "harbourtown", "-s", "LOG_LEVEL=WARNING", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == (
        "harbourtown: scraped 5, inserted 0, updated 0, unchanged 5, invalid 0, "
        "duplicates 0, withdrawn 0 (finished, complete, 0 errors in pipeline.errors)\n"
    )
    assert second.stdout in text
    assert _staging_rows(engine) == before

    # 6. the feed changes: one updated, one withdrawn, one invalid
    shutil.copy(folder / "updated" / "page-2.json", folder / "feed" / "page-2.json")
    third = run_cli("crawl", "harbourtown", "-s", "LOG_LEVEL=WARNING", env=env)
    assert third.returncode == 0, third.stderr
    assert third.stdout == (
        "harbourtown: scraped 5, inserted 0, updated 1, unchanged 3, invalid 1, "
        "duplicates 0, withdrawn 1 (finished, complete, 1 errors in pipeline.errors)\n"
    )
    assert third.stdout in text
    warning = (
        "WARNING: harbourtown record 1006: location.latitude: "
        "95.27 is greater than the maximum of 90"
    )
    assert warning in third.stderr and warning in text
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(listings.c.external_id, listings.c.status, listings.c.record_hash)
        ).all()
    assert {ext: status for ext, status, _ in rows} == {
        "1001": "active",
        "1002": "active",
        "1003": "active",
        "1004": "active",
        "1005": "withdrawn",
    }
    for ext, status, record_hash in rows:
        assert re.search(rf"^{ext} +{status} +{record_hash[:12]}", text, re.MULTILINE)

    # 7. the invalid record is in pipeline.errors
    with engine.connect() as conn:
        error_rows = conn.execute(
            sa.select(
                errors.c.external_id,
                errors.c.stage,
                errors.c.field,
                errors.c.message,
                errors.c.value,
            )
        ).all()
    assert [tuple(row) for row in error_rows] == [
        (
            "1006",
            "validate",
            "location.latitude",
            "95.27 is greater than the maximum of 90",
            "95.27",
        )
    ]
    assert re.search(
        r"^1006 +validate +location\.latitude +95\.27 is greater than the maximum of 90 +95\.27$",
        text,
        re.MULTILINE,
    )
