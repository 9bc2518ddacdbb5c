"""The mapping features for messy real feeds, each on the Spanish venues export of
``docs/examples/messy`` (an XML export shaped like a regional board's): predicates on
XML attributes, wildcards over repeated elements, the template, ``invalid: keep|drop``,
title case and ``map_default: {keep: true}``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from pipeline_core.config import load_settings
from pipeline_core.exceptions import MappingError, RecordError
from pipeline_core.mapping import CompiledMapping, load_mapping_file, load_mapping_text
from pipeline_core.model import validate_record
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.records.xml_read import Namer, iter_records

MESSY = ROOT / "docs" / "examples" / "messy"
HEAD = """\
source: servicios
dmo: turismo-region
fetcher: xml_feed
url: https://example.org/servicios.xml
records: servicio
id: "@id"
defaults: {language: es, country: ES, category: attraction}
fields:
  name: nombre
"""


@pytest.fixture(scope="module")
def transforms() -> dict[str, Any]:
    return get_plugin_manager(load_settings({})).transforms()


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, Any]]:
    body = (MESSY / "servicios.xml").read_bytes()
    return {r["@id"]: r for r in iter_records(body, ["servicio"], Namer())}


def mapped(
    fields: str, transforms: dict[str, Any], record: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    mapping = CompiledMapping(load_mapping_text(HEAD + fields, "servicios.yaml"), transforms)
    kept: list[RecordError] = []
    out = mapping.apply(record, kept=kept)
    return out, [(k.field, k.message) for k in kept]


def test_a_predicate_picks_an_xml_item_by_its_attribute_wherever_it_stands(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    spec = '  opening_hours_text: "extradata.item[name=Horario].#text"\n'
    # Horario is the second item of 1043 and the first of 1187; 2210 has none
    assert mapped(spec, transforms, records["1043"])[0]["opening_hours_text"] == (
        "De martes a domingo de 10 a 20 h."
    )
    assert mapped(spec, transforms, records["1187"])[0]["opening_hours_text"] == (
        "Sáb y dom: 12:00 - 18:00 h"
    )
    assert "opening_hours_text" not in mapped(spec, transforms, records["2210"])[0]
    # the attribute may be named with its @, and a quoted value may hold dots
    spec = "  attributes.access: \"extradata.item[@name='Accesibilidad'].#text\"\n"
    assert mapped(spec, transforms, records["1187"])[0]["attributes"] == {
        "access": "Acceso adaptado"
    }


def test_a_wildcard_collects_one_element_or_many_as_a_list(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    spec = '  subcategories: "categorias.categoria[*]"\n'
    assert mapped(spec, transforms, records["1043"])[0]["subcategories"] == [
        "Museos",
        "Arte contemporáneo",
        "Historia",
    ]
    assert mapped(spec, transforms, records["1187"])[0]["subcategories"] == ["Palacios"]
    assert "subcategories" not in mapped(spec, transforms, records["3002"])[0]  # <categorias/>
    # without the wildcard, one element is text and several a list: the old trap
    plain = "  subcategories: categorias.categoria\n"
    assert mapped(plain, transforms, records["1187"])[0]["subcategories"] == "Palacios"


def test_a_wildcard_reads_the_rest_of_the_path_from_every_item() -> None:
    from pipeline_core.mapping import make_getter

    record = {"rooms": [{"name": "A", "beds": ["x", "y"]}, {"name": ""}, {"name": "C"}]}
    assert make_getter("rooms[*].name")(record) == ["A", "C"]
    assert make_getter("rooms[*].beds")(record) == ["x", "y"]
    assert make_getter("rooms[name=C]")(record) == {"name": "C"}
    assert make_getter("rooms[name=D]")(record) is None


def test_a_path_with_a_broken_bracket_is_a_mapping_error_naming_the_field(
    transforms: dict[str, Any],
) -> None:
    with pytest.raises(MappingError) as raised:
        CompiledMapping(
            load_mapping_text(HEAD + '  opening_hours_text: "extradata.item[name]"\n', "s.yaml"),
            transforms,
        )
    assert str(raised.value) == (
        "s.yaml: at opening_hours_text: path 'extradata.item[name]': '[name]' is neither "
        "[*] nor [key=value]"
    )


def test_the_template_joins_a_street_split_over_three_columns(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    spec = (
        "  location.street:\n"
        "    from: {type: tipovia, name: nombrevia, number: numero}\n"
        '    transform: {template: "{type} {name}, {number}"}\n'
    )
    streets = {
        ext: mapped(spec, transforms, r)[0]["location"]["street"] for ext, r in records.items()
    }
    assert streets == {
        "1043": "Calle Mayor, 12",
        "1187": "Paseo de Recoletos, 10",  # no street type
        "2210": "Plaza de la Constitución",  # no number
        "3002": "Avenida de Madrid, 3",
    }
    # without from, the names are paths into the record
    spec = '  location.street: {transform: {template: "{tipovia} {nombrevia} {numero}"}}\n'
    assert mapped(spec, transforms, records["1043"])[0]["location"]["street"] == "Calle Mayor 12"


@pytest.mark.parametrize(
    ("invalid", "email", "warning"),
    [
        (
            "keep",
            "reservas@palaciosalamanca",
            "email: not an e-mail address (The part after the @-sign is not valid. It should "
            "have a period) (value 'reservas@palaciosalamanca' from email); kept as published",
        ),
        (
            "drop",
            None,
            "email: not an e-mail address (The part after the @-sign is not valid. It should "
            "have a period) (value 'reservas@palaciosalamanca' from email); left out",
        ),
    ],
)
def test_invalid_keep_or_drop_stages_the_listing_with_a_warning(
    invalid: str,
    email: str | None,
    warning: str,
    transforms: dict[str, Any],
    records: dict[str, dict[str, Any]],
) -> None:
    spec = f"  contact.email: {{from: email, transform: {{email: {{invalid: {invalid}}}}}}}\n"
    out, warnings = mapped(spec, transforms, records["1187"])
    assert out.get("contact", {}).get("email") == email
    assert warnings == [("contact.email", warning)]
    assert validate_record(out) == []
    # a good address is read as ever, without a warning
    out, warnings = mapped(spec, transforms, records["1043"])
    assert (out["contact"]["email"], warnings) == ("info@museociudad.es", [])


def test_without_invalid_one_bad_value_rejects_the_listing(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(RecordError) as raised:
        mapped(
            "  location.postal_code: {from: cp, transform: postal_code}\n",
            transforms,
            records["1187"],
        )
    assert (raised.value.external_id, raised.value.field) == ("1187", "location.postal_code")


@pytest.mark.parametrize(
    ("spec", "field", "expected", "ending"),
    [
        ("{from: cp, transform: {postal_code: {invalid: drop}}}", "postal_code", None, "left out"),
        (
            "{from: cp, transform: {postal_code: {invalid: keep}}}",
            "postal_code",
            "-",
            "kept as published",
        ),
        # text cannot stand in a number: kept becomes left out, and says why
        ("{from: cp, transform: {latitude: {invalid: keep}}}", "latitude", None, "left out"),
        ("{from: cp, transform: [{int: {invalid: drop}}, str]}", "postal_code", None, "left out"),
    ],
)
def test_invalid_works_on_every_checking_transform(
    spec: str,
    field: str,
    expected: Any,
    ending: str,
    transforms: dict[str, Any],
    records: dict[str, dict[str, Any]],
) -> None:
    out, warnings = mapped(f"  location.{field}: {spec}\n", transforms, records["1187"])
    assert out["location"].get(field) == expected
    ((where, message),) = warnings
    assert where == f"location.{field}" and message.endswith(f"(value '-' from cp); {ending}")
    if field == "latitude":
        assert "the field cannot hold it as published" in message


def test_invalid_takes_only_its_choices(transforms: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as raised:
        CompiledMapping(
            load_mapping_text(
                HEAD + "  contact.email: {from: email, transform: {email: {invalid: ignore}}}\n",
                "s.yaml",
            ),
            transforms,
        )
    assert str(raised.value) == (
        "s.yaml: at contact.email.transform: invalid must be one of error, keep, drop, not 'ignore'"
    )


def test_phone_reads_invalid_itself_and_drops_too(transforms: dict[str, Any]) -> None:
    out, warnings = mapped(
        "  contact.phone: {from: tel, transform: {phone: {invalid: drop}}}\n",
        transforms,
        {"@id": "9", "nombre": "x", "tel": "12"},
    )
    assert "contact" not in out
    assert warnings == [
        ("contact.phone", "phone: not a valid phone number in ES (value '12' from tel); left out")
    ]


def test_title_case_knows_the_small_words_of_the_source_language(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    spec = "  name: {from: nombre, transform: [text, title]}\n"
    names = {ext: mapped(spec, transforms, r)[0]["name"]["es"] for ext, r in records.items()}
    assert names == {
        "1043": "Museo de la Ciudad",
        "1187": "Palacio del Marqués de Salamanca",
        "2210": "Casa de Comidas El Escorial",
        "3002": "Hotel Los Olivos II",
    }


def test_a_map_default_that_keeps_the_value(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    spec = (
        "  location.locality:\n"
        "    from: municipio\n"
        '    map: {"Madrid (capital)": Madrid, "S.L. de El Escorial": San Lorenzo de El Escorial}\n'
        "    map_default: {keep: true}\n"
    )
    localities = {
        ext: mapped(spec, transforms, r)[0]["location"]["locality"] for ext, r in records.items()
    }
    assert localities == {
        "1043": "Madrid",
        "1187": "Madrid",
        "2210": "San Lorenzo de El Escorial",
        "3002": "Alcalá de Henares",
    }
    # the same with a transform first, and inside a closure (several paths)
    spec = (
        "  location.locality: {from: [nada, municipio], transform: upper, "
        "map: {MADRID (CAPITAL): Madrid}, map_default: {keep: true}}\n"
    )
    assert mapped(spec, transforms, records["3002"])[0]["location"]["locality"] == (
        "ALCALÁ DE HENARES"
    )
    assert mapped(spec, transforms, records["1043"])[0]["location"]["locality"] == "Madrid"


def test_the_messy_feed_mapping_stages_every_venue(
    transforms: dict[str, Any], records: dict[str, dict[str, Any]]
) -> None:
    mapping = CompiledMapping(load_mapping_file(MESSY / "servicios.yaml"), transforms)
    for record in records.values():
        assert validate_record(mapping.apply(record)) == []


def test_the_example_folder_holds_what_the_page_names() -> None:
    assert sorted(p.name for p in Path(MESSY).iterdir()) == ["servicios.xml", "servicios.yaml"]


def test_the_messy_feed_page_shows_its_mapping_feed_and_preview(tmp_path: Path) -> None:
    import shutil

    from conftest import run_cli

    text = (ROOT / "docs" / "tutorial-messy-feed.md").read_text("utf-8")
    blocks = re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    shown = {kind: body for kind, body in blocks}
    assert shown["yaml"] == (MESSY / "servicios.yaml").read_text("utf-8")
    feed_lines = set((MESSY / "servicios.xml").read_text("utf-8").splitlines())
    for line in shown["xml"].splitlines():
        assert line in feed_lines, line
    folder = tmp_path / "messy"
    shutil.copytree(MESSY, folder)
    env = {
        "PIPELINE_SOURCES_PATH": str(folder),
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
    }
    result = run_cli("preview", "servicios-madrid", "--limit", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.replace(folder.as_uri(), "file:///tmp/messy") == shown["text"]
