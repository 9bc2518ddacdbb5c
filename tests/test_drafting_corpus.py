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
    # every record an object of six languages; records listed twice count once for the id
    "amsterdam-attracties": ([], []),
    "amsterdam-eten-drinken": ([], []),
    # a city's own layer: no locality; Appartement is in no taxonomy
    "wien-unterkuenfte": ([], ["location.locality", "subcategories"]),
    "datatourisme-centre-val-de-loire": ([], []),
    # the esMADRID categories sit in a list of <item>s: the draft says `other`
    "esmadrid-informacion-turistica": (["category"], []),
    # PK is the id; CLASE-VIAL, NOMBRE-VIA and NUM form the street; DESCRIPCION-ENTIDAD,
    # the longer of two description columns, is the description
    "madrid-oficinas-turismo": ([], ["subcategories"]),
    # 'Id struttura' is the id; Italian, not Portuguese, though 'o' is in every other row
    "lombardia-strutture-ricettive": ([], ["attributes.beds", "attributes.rooms"]),
    # UTF-16 with a byte order mark; addresses_main_address ('True') is no street; the
    # Catalan of the labels is outnumbered by 'el' in the neighbourhoods' names: es
    "barcelona-hotels": (["language"], ["name.ca"]),
}
_FORMATS = {"json_api": "json", "xml_feed": "xml", "csv_feed": "csv", "jsonld": "jsonld"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_drafts_match_the_experts_field_by_field(name: str, registry: Any) -> None:
    transforms, fetchers = registry
    folder = CORPUS / name
    expert = load_mapping_file(folder / "expert.yaml")
    feed = folder / str(expert.doc["url"])
    draft = draft_source(name, str(feed), sample_size=300, transforms=transforms, fetchers=fetchers)
    fmt = _FORMATS[expert.fetcher]
    records = read_records(fetch_sample(str(feed)), fmt, 300, expert.doc.get("records")).records
    result = compare(expert, load_mapping_text(draft.text, name), records, transforms, fetchers)
    wrong, missing = EXPECTED[name]
    assert (result.wrong, result.missing) == (wrong, missing)
    assert {"external_id", "location.latitude", "location.longitude"} <= set(result.right)
    assert draft.staged >= 0.95 * draft.sampled


def test_the_corpus_holds_twelve_real_feeds_in_four_formats_and_five_languages() -> None:
    """At least twelve feeds of a few hundred records, in four formats and five languages
    (issue 17); every feed with its licence in the README."""
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    formats, languages = set(), set()
    big_formats, big_languages, big = set(), set(), []
    for folder in folders:
        expert = load_mapping_file(folder / "expert.yaml")
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(["expert.yaml", str(expert.doc["url"])]), folder.name
        assert f"`{folder.name}/{expert.doc['url']}`" in readme  # publisher, licence, source
        assert expert.doc["licence"]["name"] and expert.doc["licence"]["attribution"]
        formats.add(expert.fetcher)
        languages.add(expert.doc["defaults"]["language"])
        fmt = _FORMATS[expert.fetcher]
        path = expert.doc.get("records") if fmt in ("json", "xml") else None
        feed = fetch_sample(str(folder / str(expert.doc["url"])))
        if len(read_records(feed, fmt, 1000, path).records) >= 250:
            big.append(folder.name)
            big_formats.add(expert.fetcher)
            big_languages.add(expert.doc["defaults"]["language"])
    assert len(folders) == 19
    assert formats == big_formats == {"csv_feed", "json_api", "jsonld", "xml_feed"}
    assert languages == big_languages == {"ca", "de", "en", "es", "fr", "it", "nl"}
    assert len(big) == 12, big
    assert "Nineteen feeds, four formats" in readme
