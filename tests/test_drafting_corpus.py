"""The draft corpus (``tests/fixtures/draft_corpus``): real feeds of tourism publishers,
each drafted and compared field by field with the mapping an expert wrote; the corpus's
size, formats, languages and licences. (A module of its own: the longest of the drafting
tests, run beside the others.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline_core.drafting import draft_source
from pipeline_core.drafting.compare import compare
from pipeline_core.drafting.sample import fetch_sample, read_records
from pipeline_core.mapping.document import load_mapping_file, load_mapping_text
from pipeline_core.plugins import get_plugin_manager

CORPUS = Path(__file__).parent / "fixtures" / "draft_corpus"


@pytest.fixture(scope="module")
def registry() -> tuple[dict[str, Any], dict[str, type]]:
    pm = get_plugin_manager()
    return pm.transforms(), pm.fetchers()


# The expert's fields each draft gets wrong or misses (the rest are right).
EXPECTED = {
    "failte-attractions": ([], []),
    "toerisme-vlaanderen-logies": ([], ["attributes.capacity", "attributes.comfort_class"]),
    "madrid-turismo-oficinas": ([], ["location.locality", "subcategories"]),
    "wien-stadtspaziergang": (["category"], ["attributes.walk_category", "location.locality"]),
    # the record is the outermost repeated element (<service>, not the <media> in each)
    "esmadrid-alojamientos": ([], []),
    # the esMADRID categories sit in a list of <item>s: the draft says `other`
    "esmadrid-informacion-turistica": (["category"], []),
    # PK is the id; CLASE-VIAL, NOMBRE-VIA and NUM form the street; DESCRIPCION-ENTIDAD,
    # the longer of two description columns, is the description
    "madrid-oficinas-turismo": ([], ["subcategories"]),
    # 'Id struttura' is the id; Italian, not Portuguese, though 'o' is in every other row
    "lombardia-strutture-ricettive": (
        [],
        ["attributes.beds", "attributes.classification", "attributes.rooms"],
    ),
    # UTF-16 with a byte order mark; addresses_main_address ('True') is no street; the
    # Catalan of the labels is outnumbered by 'el' in the neighbourhoods' names: es
    "barcelona-hotels": (["language"], ["attributes.classification", "name.ca"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_drafts_match_the_experts_field_by_field(name: str, registry: Any) -> None:
    transforms, fetchers = registry
    folder = CORPUS / name
    expert = load_mapping_file(folder / "expert.yaml")
    feed = folder / str(expert.doc["url"])
    draft = draft_source(name, str(feed), sample_size=300, transforms=transforms, fetchers=fetchers)
    fmt = {"json_api": "json", "xml_feed": "xml", "csv_feed": "csv"}[expert.fetcher]
    records = read_records(fetch_sample(str(feed)), fmt, 300, expert.doc.get("records")).records
    result = compare(expert, load_mapping_text(draft.text, name), records, transforms, fetchers)
    wrong, missing = EXPECTED[name]
    assert (result.wrong, result.missing) == (wrong, missing)
    assert {"external_id", "location.latitude", "location.longitude"} <= set(result.right)
    assert draft.staged >= 0.95 * draft.sampled


def test_the_corpus_holds_twelve_real_feeds_in_four_formats_and_five_languages() -> None:
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    formats, languages = set(), set()
    for folder in folders:
        expert = load_mapping_file(folder / "expert.yaml")
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(["expert.yaml", str(expert.doc["url"])]), folder.name
        assert f"`{folder.name}/{expert.doc['url']}`" in readme  # publisher, licence, source
        assert expert.doc["licence"]["name"] and expert.doc["licence"]["attribution"]
        formats.add(expert.fetcher)
        languages.add(expert.doc["defaults"]["language"])
    assert len(folders) == 15
    assert formats == {"csv_feed", "json_api", "jsonld", "xml_feed"}
    assert languages == {"ca", "de", "en", "es", "fr", "it", "nl"}
    assert "Fifteen feeds, four formats" in readme
