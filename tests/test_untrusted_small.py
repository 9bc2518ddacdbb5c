"""The small items of issue 15 (item 8): a Unicode digit in a path, NaN refused by ``float``,
the billion laughs refused as documented, and duplicate JSON keys (the last one wins).
The SHA-256 check of ``ingest`` is in ``test_jobs_ingest.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fetch_helpers import crawl, error_rows, staged

from pipeline_core.config import load_settings
from pipeline_core.exceptions import RecordError
from pipeline_core.mapping import CompiledMapping, load_mapping_text
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.records.xml_read import Namer, UnsafeXML, iter_records

BASE = """\
source: demo
dmo: demo-dmo
fetcher: json_api
url: https://example.org/api
id: id
defaults: {language: en}
fields:
  category: {const: attraction}
"""


@pytest.fixture(scope="module")
def transforms() -> dict[str, Any]:
    return get_plugin_manager(load_settings({})).transforms()


def test_a_unicode_digit_in_a_path_is_a_key_not_an_index(transforms: dict[str, Any]) -> None:
    mapping = CompiledMapping(
        load_mapping_text(BASE + "  name: title.²\n", "demo.yaml"), transforms
    )
    record = mapping.apply({"id": "1", "title": {"²": "Squared"}})
    assert record["name"] == {"en": "Squared"}
    arabic = CompiledMapping(load_mapping_text(BASE + "  name: t.٣\n", "demo.yaml"), transforms)
    assert arabic.apply({"id": "2", "t": {"٣": "Three"}})["name"] == {"en": "Three"}


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-Infinity", "1e999", float("nan")])
def test_float_refuses_nan_and_infinity_naming_the_field(
    transforms: dict[str, Any], value: Any
) -> None:
    text = BASE + "  name: n\n  location.latitude: {from: lat, transform: float}\n"
    mapping = CompiledMapping(load_mapping_text(text, "demo.yaml"), transforms)
    with pytest.raises(RecordError) as raised:
        mapping.apply({"id": "3", "n": "x", "lat": value})
    assert raised.value.field == "location.latitude"
    assert f"not a finite number: {value!r} (NaN and infinity are refused)" in raised.value.message
    assert "null" not in raised.value.message


LOL = ['<!ENTITY lol "lol">'] + [
    f'<!ENTITY lol{n} "' + f"&lol{n - 1 if n > 1 else ''};" * 10 + '">' for n in range(1, 10)
]
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
    + "\n".join(LOL)
    + "\n]>\n<items><item><id>1</id><name>&lol9;</name></item></items>"
).encode()


def test_the_billion_laughs_is_refused_as_documented_not_as_not_well_formed() -> None:
    with pytest.raises(UnsafeXML) as raised:
        list(iter_records(BILLION_LAUGHS, ["item"], Namer()))
    message = str(raised.value)
    assert message.startswith(
        "the document declares entities, which are never resolved: lol (internal: lol), "
        "lol1 (internal: &lol;&lol;&lol;"
    )
    assert message.endswith("lol9 (internal: " + "&lol8;" * 10 + ")")


def test_duplicate_json_keys_keep_the_last_value(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "dupes.json").write_text(
        '{"data": [{"id": "d1", "title": "First", "title": "Last"}]}', "utf-8"
    )
    text = BASE.replace("source: demo", "source: dupes").replace(
        "url: https://example.org/api", "url: dupes.json\nrecords: data"
    )
    result = crawl(pipeline_env, folder, {"dupes": text + "  name: title\n"})
    assert result.returncode == 0, result.stderr
    assert staged(engine, "dupes")["d1"]["name"] == {"en": "Last"}
    assert error_rows(engine, "dupes") == []
