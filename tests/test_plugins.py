"""Third-party plugins: the example plugin in plugins/dmo-pipeline-example, and broken ones.

The example plugin must be installed (``pip install -e plugins/dmo-pipeline-example``). It
registers the source ``example-lakeside`` (a mapping and an 8-listing sample feed shipped as
package data) and the transform ``stars``. Broken plugins are built per test as a
distribution in a temporary folder, put on ``PYTHONPATH`` of a child process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT, run_cli, run_scrapy

from pipeline_core.config import Settings, load_settings
from pipeline_core.db.tables import staging
from pipeline_core.plugins import PluginInfo, get_plugin_manager

try:
    from dmo_pipeline_example import plugin as example_plugin
except ImportError as exc:  # pragma: no cover - a setup error, not a test failure
    raise ImportError(
        "the example plugin is not installed: pip install -e plugins/dmo-pipeline-example"
    ) from exc

PLUGIN_DIR = ROOT / "plugins" / "dmo-pipeline-example"
MAPPING = example_plugin.MAPPINGS / "example-lakeside.yaml"
FIRST_PAGE = example_plugin.MAPPINGS / "samples" / "example-lakeside" / "page-1.json"

BUILTINS = [
    "builtin-transforms",
    "builtin-json-api",
    "builtin-xml-feed",
    "builtin-csv-feed",
    "builtin-html",
    "builtin-jsonld",
    "builtin-repo-sources",
    "builtin-config-sources",
    "builtin-phone",
    "builtin-contact",
    "builtin-geo",
    "builtin-hours",
    "builtin-language",
    "builtin-taxonomy",
    "builtin-address",
    "builtin-dates",
    "builtin-template",
    "builtin-title-case",
    "builtin-pipeline-jobs",
    "builtin-job-types",
    "builtin-upload",
    "builtin-image-jobs",
    "builtin-promote-job",
    "builtin-log-notifier",
    "builtin-webhook-notifier",
]
#: external id → canonical category of the 8 sample listings.
LAKESIDE_CATEGORIES = {
    "LS-001": "lodging",
    "LS-002": "lodging",
    "LS-003": "restaurant",
    "LS-004": "tour",
    "LS-005": "attraction",
    "LS-006": "lodging",
    "LS-007": "lodging",
    "LS-008": "attraction",
}
#: external id → value of the ``stars`` attribute (the plugin's transform) in staging.
LAKESIDE_STARS = {"LS-001": "4", "LS-002": "3", "LS-006": "5", "LS-007": "2"}
FIRST_CRAWL = (
    "example-lakeside: scraped 8, inserted 8, updated 0, unchanged 0, invalid 0, "
    "duplicates 0, withdrawn 0 (finished, complete, 0 errors in pipeline.errors)"
)
SECOND_CRAWL = (
    "example-lakeside: scraped 8, inserted 0, updated 0, unchanged 8, invalid 0, "
    "duplicates 0, withdrawn 0 (finished, complete, 0 errors in pipeline.errors)"
)


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """Child-process environment for commands that only list things (a throwaway SQLite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        PIPELINE_DATABASE_URL=f"sqlite:///{tmp_path / 'plain' / 'pipeline.db'}",
        PIPELINE_HOME=str(tmp_path / "home"),
        PIPELINE_STORAGE_URL=str(tmp_path / "files"),
        LOG_LEVEL="INFO",
    )
    return env


def _settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'inproc' / 'pipeline.db'}",
            "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
            **extra,
        }
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _source_rows(stdout: str) -> dict[str, list[str]]:
    """``dmo-pipeline sources`` output: name → [dmo, fetcher, origin]."""
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines() if line.strip()}


def _staged(engine: sa.Engine) -> tuple[dict[str, str], dict[str, str], dict[str, dict]]:
    """Categories, stars attributes and records of the staged example-lakeside listings."""
    listings, attributes = staging["listings"], staging["attributes"]
    mine = listings.c.source == "example-lakeside"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                listings.c.external_id,
                listings.c.category,
                listings.c.status,
                listings.c.dmo,
                listings.c.record,
            ).where(mine)
        ).all()
        stars = conn.execute(
            sa.select(listings.c.external_id, attributes.c.value)
            .join(attributes, attributes.c.listing_id == listings.c.id)
            .where(mine, attributes.c.name == "stars")
        ).all()
    assert {(r.status, r.dmo) for r in rows} == {("active", "example-lakeside-dmo")}
    return (
        {r.external_id: r.category for r in rows},
        dict(stars),
        {r.external_id: r.record for r in rows},
    )


# ---------------------------------------------------------------- the plugin manager


def test_plugin_manager_lists_the_example_plugin(tmp_path: Path) -> None:
    pm = get_plugin_manager(_settings(tmp_path))

    assert pm.infos["example"] == PluginInfo(
        name="example",
        module="dmo_pipeline_example.plugin",
        distribution="dmo-pipeline-example",
        version="0.1.0",
        hooks=("register_sources", "register_transforms"),
    )
    assert pm.get_plugin("example") is example_plugin
    # Installed plugins come after the built-ins.
    assert list(pm.infos)[: len(BUILTINS)] == BUILTINS
    assert list(pm.infos).index("example") >= len(BUILTINS)


def test_plugin_registers_source_and_transform(tmp_path: Path) -> None:
    pm = get_plugin_manager(_settings(tmp_path))

    sources = pm.sources()
    assert {"example-city", "example-lakeside"} <= set(sources)
    lakeside = sources["example-lakeside"]
    assert (lakeside.name, lakeside.dmo, lakeside.fetcher) == (
        "example-lakeside",
        "example-lakeside-dmo",
        "json_api",
    )
    assert lakeside.origin == str(MAPPING)
    assert lakeside.spider_cls is None
    # The mapping's relative url is resolved against the mapping file's folder.
    assert lakeside.mapping.resolved_url() == FIRST_PAGE.as_uri()
    assert FIRST_PAGE.is_file()
    assert lakeside.mapping.doc["pagination"] == {
        "type": "next_link",
        "path": "meta.paging.next_page",
        "max_pages": 10,
    }

    transforms = pm.transforms()
    assert transforms["stars"].func is example_plugin.stars
    assert transforms["stars"].help.startswith("Star rating 0-5")
    assert "int" in transforms  # the built-ins are still there


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("★★★", 3),
        ("★★★☆☆", 3),
        (" ★★★★ ", 4),
        ("☆☆☆☆☆", 0),
        ("***", 3),
        ("3 stars", 3),
        ("1 Star", 1),
        ("5*", 5),
        ("2 Sterne", 2),
        ("4", 4),
        (4, 4),
        (5.0, 5),
    ],
)
def test_stars_transform(value: object, expected: int) -> None:
    assert example_plugin.stars(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "not a star rating"),
        ("3.5 stars", "not a star rating"),
        ("", "not a star rating"),
        (3.5, "not a star rating"),
        (True, "expected a star rating, got a boolean"),
        ("★★★★★★", "a star rating is 0 to 5"),
        ("7 stars", "a star rating is 0 to 5"),
        (-1, "a star rating is 0 to 5"),
    ],
)
def test_stars_transform_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        example_plugin.stars(value)
    assert str(info.value) == message


def test_disabled_plugin_is_not_loaded(tmp_path: Path) -> None:
    pm = get_plugin_manager(_settings(tmp_path, PIPELINE_DISABLE_PLUGINS="example"))

    assert "example" not in pm.infos
    assert pm.get_plugin("example") is None
    assert "example-lakeside" not in pm.sources()
    assert "example-city" in pm.sources()
    assert "stars" not in pm.transforms()


# ---------------------------------------------------------------- command line


def test_cli_plugins_lists_the_example_plugin(plain_env: dict[str, str]) -> None:
    lines = _ok(run_cli("plugins", env=plain_env)).stdout.splitlines()

    at = lines.index("example  (dmo-pipeline-example 0.1.0, dmo_pipeline_example.plugin)")
    assert lines[at + 1] == "    hooks: register_sources, register_transforms"
    builtin = "builtin-config-sources  (dmo-pipeline 0.1.0, pipeline_core.builtin.config_sources)"
    assert lines.index(builtin) < at


def test_cli_sources_lists_the_example_source(plain_env: dict[str, str]) -> None:
    rows = _source_rows(_ok(run_cli("sources", env=plain_env)).stdout)

    assert rows["example-lakeside"] == ["example-lakeside-dmo", "json_api", str(MAPPING)]
    assert rows["example-city"] == [
        "example-city-dmo",
        "json_api",
        str(ROOT / "mappings" / "example-city.yaml"),
    ]


def test_scrapy_list_in_checkout_shows_repo_and_plugin_sources(plain_env: dict[str, str]) -> None:
    names = _ok(run_scrapy("list", env=plain_env)).stdout.split()

    assert "example-city" in names
    assert "example-lakeside" in names
    assert names == sorted(names)


def test_disable_plugins_removes_the_source(plain_env: dict[str, str]) -> None:
    env = {**plain_env, "PIPELINE_DISABLE_PLUGINS": "example"}

    plugins = _ok(run_cli("plugins", env=env)).stdout
    assert "dmo-pipeline-example" not in plugins
    assert "builtin-json-api  (dmo-pipeline 0.1.0" in plugins

    rows = _source_rows(_ok(run_cli("sources", env=env)).stdout)
    assert "example-lakeside" not in rows
    assert "example-city" in rows

    names = _ok(run_scrapy("list", env=env)).stdout.split()
    assert "example-lakeside" not in names
    assert "example-city" in names

    crawl = run_cli("crawl", "example-lakeside", "--no-progress", env=env)
    assert crawl.returncode == 1
    assert "Error: no source named 'example-lakeside' (known: " in crawl.stderr


# ---------------------------------------------------------------- crawling


def test_scrapy_crawl_stages_the_plugin_source(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    result = _ok(run_scrapy("crawl", "example-lakeside", env=pipeline_env))
    assert (
        "example-lakeside: crawl finished (finished): scraped 8, inserted 8, updated 0, "
        "unchanged 0, invalid 0, duplicates 0, withdrawn 0"
    ) in result.stderr

    categories, stars, records = _staged(engine)
    assert categories == LAKESIDE_CATEGORIES
    assert stars == LAKESIDE_STARS
    # The transform's int lands in the canonical record too.
    in_records = {k: r.get("attributes", {}).get("stars") for k, r in records.items()}
    assert {k: v for k, v in in_records.items() if v is not None} == {
        "LS-001": 4,
        "LS-002": 3,
        "LS-006": 5,
        "LS-007": 2,
    }
    assert records["LS-001"]["name"] == {"en": "Hotel Seeblick"}
    assert records["LS-001"]["location"] == {
        "street": "Seestrasse 12",
        "postal_code": "6353",
        "locality": "Lakeside",
        "latitude": 46.9981,
        "longitude": 8.4102,
        "country": "CH",
    }
    assert records["LS-001"]["contact"]["website"] == "https://www.seeblick.example"
    assert records["LS-001"]["attributes"] == {
        "stars": 4,
        "rooms": 42,
        "amenities": ["lake view", "spa", "parking"],
    }
    assert records["LS-008"].get("attributes") is None


def test_dmo_pipeline_crawl_from_another_folder(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    args = ("crawl", "example-lakeside", "--no-progress")

    first = _ok(run_cli(*args, env=pipeline_env, cwd=elsewhere))
    assert first.stdout.splitlines()[-1] == FIRST_CRAWL
    second = _ok(run_cli(*args, env=pipeline_env, cwd=elsewhere))
    assert second.stdout.splitlines()[-1] == SECOND_CRAWL

    categories, stars, _ = _staged(engine)
    assert categories == LAKESIDE_CATEGORIES
    assert stars == LAKESIDE_STARS
    assert list(elsewhere.iterdir()) == []  # nothing written to the working folder


# ---------------------------------------------------------------- broken plugins

BROKEN_PLUGINS = {
    # entry point name: (module source, error text after "PluginError: ")
    "broken": (
        "import dmo_pipeline_no_such_module  # noqa: F401\n",
        "plugin 'broken' (fake_plugin, distribution fake-plugin) failed to import: "
        "ModuleNotFoundError: No module named 'dmo_pipeline_no_such_module'",
    ),
    "misspelled": (
        "from pipeline_core.hookspecs import hookimpl\n\n\n"
        "@hookimpl\n"
        "def register_source(settings):\n"
        "    return []\n",
        "plugin 'misspelled' (fake_plugin, distribution fake-plugin) implements a hook that "
        "does not exist: unknown hook 'register_source'; "
        "see docs/reference/hooks.md for the hook names",
    ),
}

CHECK_PLUGINS = """
from pipeline_core.exceptions import PluginError
from pipeline_core.plugins import get_plugin_manager
try:
    pm = get_plugin_manager()
except PluginError as exc:
    print(f"PluginError: {exc}")
    raise SystemExit(3)
print("loaded: " + ", ".join(pm.infos))
"""


def make_fake_distribution(folder: Path, entry_point: str, module_source: str) -> Path:
    """A distribution ``fake-plugin`` 1.0 with module ``fake_plugin``, importable from folder."""
    folder.mkdir(parents=True)
    (folder / "fake_plugin.py").write_text(module_source, "utf-8")
    dist_info = folder / "fake_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-plugin\nVersion: 1.0\n", "utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[dmo_pipeline]\n{entry_point} = fake_plugin\n", "utf-8"
    )
    return folder


def _check_plugins(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHECK_PLUGINS],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(BROKEN_PLUGINS))
def test_broken_plugin_is_an_error_naming_it(
    name: str, plain_env: dict[str, str], tmp_path: Path
) -> None:
    source, expected = BROKEN_PLUGINS[name]
    folder = make_fake_distribution(tmp_path / "fake", name, source)
    expected = expected.format(folder=folder)
    env = {**plain_env, "PYTHONPATH": str(folder)}

    result = _check_plugins(env)
    assert result.returncode == 3, result.stderr
    message = result.stdout.strip()
    assert message.startswith("PluginError: plugin ")
    assert message.endswith(expected)
    assert "fake_plugin" in message

    cli = run_cli("plugins", env=env)
    assert cli.returncode == 1
    assert cli.stderr.strip().endswith(expected)
    assert cli.stderr.startswith("Error: plugin ")

    # PIPELINE_DISABLE_PLUGINS skips it before it is imported or checked.
    disabled = _ok(_check_plugins({**env, "PIPELINE_DISABLE_PLUGINS": name}))
    loaded = disabled.stdout.strip().removeprefix("loaded: ").split(", ")
    assert loaded[: len(BUILTINS)] == BUILTINS
    assert "example" in loaded
    assert name not in loaded


# ---------------------------------------------------------------- non-editable install


@pytest.mark.slow
def test_wheel_carries_mapping_and_sample_feed(tmp_path: Path) -> None:
    """Built as a wheel and installed (unpacked) elsewhere, the plugin still crawls."""
    source = tmp_path / "src"
    shutil.copytree(
        PLUGIN_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    wheels = tmp_path / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels)]
    _ok(
        subprocess.run(
            [*pip_wheel, str(source)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    )
    (wheel,) = wheels.glob("dmo_pipeline_example-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert {
        "dmo_pipeline_example/__init__.py",
        "dmo_pipeline_example/plugin.py",
        "dmo_pipeline_example/mappings/example-lakeside.yaml",
        "dmo_pipeline_example/mappings/samples/example-lakeside/page-1.json",
        "dmo_pipeline_example/mappings/samples/example-lakeside/page-2.json",
    } <= names

    # The unpacked wheel comes first on sys.path, before the editable install.
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")} | {
        "PYTHONPATH": str(site),
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'pipeline.db'}",
        "PIPELINE_HOME": str(tmp_path / "home"),
        "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
    }
    installed = site / "dmo_pipeline_example" / "mappings" / "example-lakeside.yaml"
    rows = _source_rows(_ok(run_cli("sources", env=env, cwd=tmp_path)).stdout)
    assert rows["example-lakeside"] == ["example-lakeside-dmo", "json_api", str(installed)]
    crawl = _ok(run_cli("crawl", "example-lakeside", "--no-progress", env=env, cwd=tmp_path))
    assert crawl.stdout.splitlines()[-1] == FIRST_CRAWL
