"""``dmo-pipeline new-source``: the scaffolded package, and its own tests in a fresh venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import venv
from collections.abc import Iterator
from importlib.metadata import distribution
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from wheelhouse import build_wheelhouse

from pipeline_core.cli import main
from pipeline_core.config import load_settings
from pipeline_core.mapping import load_mapping_file
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.scaffold import FORMATS, rendered_files

DOCS = ROOT / "docs"
EXAMPLE_PLUGIN = DOCS / "examples" / "plugin"
TUTORIAL_PACKAGE = "src/dmo_pipeline_riverside_sights"

JSON_FILES = [
    "README.md",
    "pyproject.toml",
    "scrapy.cfg",
    "src/dmo_pipeline_riverside_sights/__init__.py",
    "src/dmo_pipeline_riverside_sights/mappings/riverside-sights.yaml",
    "src/dmo_pipeline_riverside_sights/plugin.py",
    "tests/fixtures/page-1.json",
    "tests/fixtures/page-2.json",
    "tests/test_source.py",
]


def _new_source(*args: str, cwd: Path) -> tuple[int, str]:
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(main, ["new-source", *args], catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def test_new_source_json_writes_the_package(tmp_path: Path) -> None:
    code, output = _new_source("riverside-sights", "--format", "json", cwd=tmp_path)

    assert code == 0, output
    target = tmp_path / "dmo-pipeline-riverside-sights"
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert written == JSON_FILES
    lines = output.splitlines()
    assert lines[0] == (
        "created dmo-pipeline-riverside-sights (json source riverside-sights, "
        "package dmo_pipeline_riverside_sights):"
    )
    assert lines[1 : 1 + len(JSON_FILES)] == [f"  {f}" for f in JSON_FILES]
    first_page = (target / "tests" / "fixtures" / "page-1.json").resolve().as_uri()
    assert lines[-1] == f"  dmo-pipeline preview riverside-sights --url {first_page}"

    project = tomllib.loads((target / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["name"] == "dmo-pipeline-riverside-sights"
    assert project["dependencies"] == ["dmo-pipeline"]
    assert project["entry-points"]["dmo_pipeline"] == {
        "riverside-sights": "dmo_pipeline_riverside_sights.plugin"
    }
    mapping = load_mapping_file(
        target / "src/dmo_pipeline_riverside_sights/mappings/riverside-sights.yaml"
    )
    assert (mapping.source, mapping.dmo, mapping.fetcher) == (
        "riverside-sights",
        "riverside-sights",
        "json_api",
    )
    assert "{{" not in "".join(p.read_text("utf-8") for p in target.rglob("*") if p.is_file())


def _blocks(page: str, lang: str) -> list[str]:
    text = (DOCS / page).read_text("utf-8")
    return [b.split("```", 1)[0] for b in text.split(f"```{lang}\n")[1:]]


def test_docs_show_the_new_source_output_and_the_generated_files(tmp_path: Path) -> None:
    code, output = _new_source("riverside-sights", cwd=tmp_path)
    assert code == 0

    shown = output.replace(str(tmp_path.resolve()), "/tmp")
    assert shown in _blocks("tutorial.md", "text")
    assert "$ dmo-pipeline new-source riverside-sights\n" + shown in _blocks(
        "reference/cli.md", "text"
    )
    files = rendered_files("riverside-sights", "json")
    assert files[f"{TUTORIAL_PACKAGE}/mappings/riverside-sights.yaml"] in _blocks(
        "tutorial.md", "yaml"
    )
    test = files["tests/test_source.py"]
    first = test[test.index("def test_sample_feed") : test.index("def test_unchanged")]
    python_blocks = _blocks("tutorial.md", "python")
    assert first.rstrip() + "\n" in python_blocks
    # Step 9 shows the example files as they are.
    for relative in (f"{TUTORIAL_PACKAGE}/events.py", "tests/test_events.py"):
        assert (EXAMPLE_PLUGIN / relative).read_text("utf-8") in python_blocks
    events_mapping = EXAMPLE_PLUGIN / TUTORIAL_PACKAGE / "mappings" / "riverside-events.yaml"
    assert events_mapping.read_text("utf-8") in _blocks("tutorial.md", "yaml")
    plugin = (EXAMPLE_PLUGIN / TUTORIAL_PACKAGE / "plugin.py").read_text("utf-8")
    (hook,) = [b for b in python_blocks if b.startswith("@hookimpl")]
    assert hook in plugin


def test_new_source_dir_and_dmo(tmp_path: Path) -> None:
    code, output = _new_source(
        "lakeside", "--dir", str(tmp_path / "pkg"), "--dmo", "lakeside-tourism", cwd=tmp_path
    )

    assert code == 0, output
    mapping = load_mapping_file(tmp_path / "pkg/src/dmo_pipeline_lakeside/mappings/lakeside.yaml")
    assert mapping.dmo == "lakeside-tourism"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Name"], "Error: source name 'Bad_Name': use lower-case letters, digits and hyphens"),
        (["ok-name", "--format", "yaml"], "Error: Invalid value for '--format': 'yaml' is not one"),
        (["ok-name", "--dmo", "-x-"], "Error: DMO slug '-x-': use lower-case letters"),
    ],
)
def test_new_source_refuses_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    code, output = _new_source(*args, cwd=tmp_path)

    assert code != 0
    assert message in output
    assert list(tmp_path.iterdir()) == []


def test_new_source_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "keep.txt").write_text("mine", "utf-8")

    code, output = _new_source("lakeside", "--dir", str(tmp_path / "pkg"), cwd=tmp_path)

    assert code == 1
    assert (
        output.strip() == f"Error: {tmp_path / 'pkg'} exists and is not an empty folder; "
        "choose another --dir"
    )
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["keep.txt"]


def _fetcher_registered(fmt: str) -> bool:
    settings = load_settings({"PIPELINE_DATABASE_URL": "sqlite://"})
    return FORMATS[fmt].fetcher in get_plugin_manager(settings).fetchers()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_renders_a_checked_mapping(fmt: str, tmp_path: Path) -> None:
    assert _fetcher_registered(fmt)  # every format's fetcher is a built-in
    files = rendered_files("riverside-sights", fmt)
    mapping_path = "src/dmo_pipeline_riverside_sights/mappings/riverside-sights.yaml"
    assert mapping_path in files
    assert f"tests/fixtures/{FORMATS[fmt].first_page}" in files
    assert "tests/test_source.py" in files
    (tmp_path / "m.yaml").write_text(files[mapping_path], "utf-8")
    assert load_mapping_file(tmp_path / "m.yaml").fetcher == FORMATS[fmt].fetcher


def test_a_format_whose_fetcher_is_not_registered_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_DISABLE_PLUGINS", "builtin-csv-feed")
    assert not _fetcher_registered_now("csv")
    code, output = _new_source("riverside-sights", "--format", "csv", cwd=tmp_path)
    assert code == 1
    assert output == (
        "Error: the csv format needs the csv_feed fetcher, which is not registered "
        "(`dmo-pipeline plugins` lists the loaded plugins)\n"
    )
    assert list(tmp_path.iterdir()) == []


def _fetcher_registered_now(fmt: str) -> bool:
    """As :func:`_fetcher_registered`, with the settings of this process's environment."""
    return FORMATS[fmt].fetcher in get_plugin_manager(load_settings()).fetchers()


# ---------------------------------------------------------------- in a fresh venv


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A new virtualenv with dmo-pipeline installed from the checkout, offline: its
    dependencies come from wheels repacked from this environment. Built once per run: the
    suite's ``--dist loadfile`` runs this module's tests on one xdist worker."""
    base = tmp_path_factory.mktemp("fresh")
    requires = [r for r in distribution("dmo-pipeline").requires or [] if "extra ==" not in r]
    wheels = base / "wheels"
    build_wheelhouse([*requires, "pytest", "setuptools>=77"], wheels)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PIPELINE_"))}
    env |= {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIPELINE_HOME": str(base / "home"),
    }
    env.pop("VIRTUAL_ENV", None)
    folder = base / "venv"
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    # The build backend once in the venv: each package is then built without an isolated
    # build environment of its own (faster, and still offline).
    _run(
        [python, "-m", "pip", "install", "-q", "--no-compile", "setuptools>=77"], cwd=base, env=env
    )
    _run(
        [python, "-m", "pip", "install", "-q", "--no-compile", "--no-build-isolation", "-e", ROOT],
        cwd=base,
        env=env,
    )
    yield python, env


@pytest.mark.slow
def test_every_format_scaffold_passes_its_own_tests_in_a_fresh_venv(
    tmp_path: Path, fresh_venv: tuple[Path, dict[str, str]]
) -> None:
    """One package per format, installed from wheels (one ``pip install`` for all of them),
    each passing its own tests with nothing skipped."""
    python, env = fresh_venv
    bindir = python.parent
    formats = sorted(FORMATS)
    for fmt in formats:
        assert _fetcher_registered(fmt)  # never a skip: every format's fetcher is a built-in
        _run(
            [bindir / "dmo-pipeline", "new-source", f"sample-{fmt}", "--format", fmt], tmp_path, env
        )
    packages = [tmp_path / f"dmo-pipeline-sample-{fmt}" for fmt in formats]
    _run(
        [python, "-m", "pip", "install", "-q", "--no-compile", "--no-build-isolation",
         *(f"{package}[test]" for package in packages)],
        tmp_path,
        env,
    )  # fmt: skip

    # Installed from wheels (not editable): each mapping travelled as package data.
    sources = _run([bindir / "dmo-pipeline", "sources"], tmp_path, env).splitlines()
    for fmt in formats:
        row = next(line.split() for line in sources if line.startswith(f"sample-{fmt} "))
        assert row[1:3] == [f"sample-{fmt}", FORMATS[fmt].fetcher]
        assert "site-packages/dmo_pipeline_sample_" in row[3]

    for fmt, package in zip(formats, packages, strict=True):
        last = _run([python, "-m", "pytest", "-p", "no:cacheprovider"], package, env).splitlines()[
            -1
        ]
        assert " passed in " in last, (fmt, last)
        assert "failed" not in last and "skipped" not in last, (fmt, last)


@pytest.mark.slow
def test_tutorial_package_with_its_spider_in_a_fresh_venv(
    tmp_path: Path, fresh_venv: tuple[Path, dict[str, str]]
) -> None:
    """Steps 8 and 9 of the tutorial: new-source, the spider's files added, pytest passes;
    ``preview`` prints what the tutorial shows."""
    python, env = fresh_venv
    bindir = python.parent
    _run([bindir / "dmo-pipeline", "new-source", "riverside-sights"], tmp_path, env)
    package = tmp_path / "dmo-pipeline-riverside-sights"
    shutil.copytree(EXAMPLE_PLUGIN, package, dirs_exist_ok=True)
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--no-build-isolation",
            "-e",
            f"{package}[test]",
        ],
        tmp_path,
        env,
    )

    output = _run([python, "-m", "pytest", "-p", "no:cacheprovider"], package, env)
    assert "tests/test_events.py .  " in output
    assert "tests/test_source.py ...  " in output
    assert output.splitlines()[-1].startswith("============================== 4 passed in ")

    first = package / "tests" / "fixtures" / "page-1.json"
    preview = _run(
        [
            bindir / "dmo-pipeline",
            "preview",
            "riverside-sights",
            "--url",
            first.as_uri(),
            "--limit",
            "1",
        ],
        tmp_path,
        env,
    )
    text = (DOCS / "tutorial.md").read_text("utf-8")
    shown = text.split("<!-- test: preview riverside-sights -->\n```text\n", 1)[1].split("```")[0]
    assert preview.replace(str(tmp_path), "/tmp") == shown
