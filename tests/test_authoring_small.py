"""The smaller items of source authoring: entities in CDATA names, ``html_text`` on an HTML
parser, a foreign number's region, where sources are looked for, ``sources --check``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from pipeline_core.builtin.phone import phone
from pipeline_core.builtin.transforms import clean_text, html_text
from pipeline_core.records.xml_read import Namer, iter_records
from pipeline_core.transforms import TransformContext

MESSY = ROOT / "docs" / "examples" / "messy"


def test_text_decodes_the_entities_a_cdata_name_carries() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><servicios><servicio id="1">'
        b"<nombre><![CDATA[Caf&eacute; de Oriente &amp; Terraza]]></nombre>"
        b"</servicio></servicios>"
    )
    (record,) = iter_records(body, ["servicio"], Namer())
    assert record["nombre"] == "Caf&eacute; de Oriente &amp; Terraza"  # as published
    assert clean_text(record["nombre"]) == "Café de Oriente & Terraza"
    assert clean_text("Fish & Chips; Bar") == "Fish & Chips; Bar"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ('<a href="x?a=1&b=2" title="1 > 0">Link</a> text', "Link text"),  # > in an attribute
        ("<div>One<div>Two</div>Three</div>", "One\nTwo\nThree"),
        ("<table><tr><td>Mon</td><td>9-17</td></tr><tr><td>Sun</td></tr></table>", "Mon9-17\nSun"),
        ("<p>Tea &amp cake &lt;3</p>", "Tea & cake <3"),  # an entity without its ;
        ("<script>var s = '</div><p>not text</p>';</script><p>Text</p>", "Text"),
        ("<!-- <p>hidden</p> --><p>shown</p>", "shown"),
    ],
)
def test_html_text_reads_markup_as_a_browser_does(markup: str, text: str) -> None:
    assert html_text(markup) == text


def test_an_invalid_foreign_number_names_its_own_country() -> None:
    ireland = TransformContext("s", {"phone_region": "IE"})
    with pytest.raises(ValueError) as raised:
        phone("+44 20 7946 000", ireland)
    assert str(raised.value) == "not a valid phone number in GB"
    assert phone("+44 20 7946 0000", ireland) == "+442079460000"


def test_an_unknown_source_names_the_folders_searched(tmp_path: Path) -> None:
    env = {
        "PIPELINE_SOURCES_PATH": str(tmp_path),
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = run_cli("preview", "servicios-madrid", env=env)
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error: ")]
    assert line.startswith("Error: no source named 'servicios-madrid' (known: ")
    assert line.endswith(
        f"; mapping files were read from {ROOT / 'mappings'}, {tmp_path}; a mapping file "
        "elsewhere is found when its folder is in PIPELINE_SOURCES_PATH (folders separated "
        "by ':')"
    )


def test_sources_check_compiles_every_mapping_with_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "messy"
    shutil.copytree(MESSY, folder)
    env = {
        "PIPELINE_SOURCES_PATH": str(folder),
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    good = run_cli("sources", "--check", env=env)
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[-1] == "7 of 7 mappings compile"

    mapping = folder / "servicios.yaml"
    text = mapping.read_text("utf-8")
    mapping.write_text(
        text.replace("transform: [text, title]", "transform: [text, {title: {lang: es}}]"), "utf-8"
    )
    line = text.splitlines().index("  name: {from: nombre, transform: [text, title]}") + 1
    bad = run_cli("sources", "--check", env=env)
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        f"broken: servicios-madrid: {mapping}:{line}: at name.transform: transform 'title' "
        "has no argument 'lang' (it takes: language)",
        "Error: 1 source(s) cannot be crawled",
    ]
    assert bad.stdout.splitlines()[-1] == "6 of 7 mappings compile"
    # without --check the sources are listed as before, and the exit code is 0
    assert run_cli("sources", env=env).returncode == 0
