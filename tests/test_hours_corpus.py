"""The corpus of real free-text opening hours (``tests/data/hours``, see its README): each
value is read in its language and compared with the hours a person wrote for it, by
``python -m benchmarks.hours`` (pure parsing, a second or so)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import opening_hours
import pytest
from conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "hours"
FILES = {
    "ca-diba-biblioteques.jsonl": 120,
    "de-berlin-weihnachtsmaerkte-2024.jsonl": 44,
    "de-berlin-weihnachtsmaerkte-2025.jsonl": 40,
    "en-nps-parks.jsonl": 117,
    "es-esmadrid.jsonl": 220,
    "es-madrid-museos.jsonl": 66,
    "fr-musees-de-france.jsonl": 150,
    "it-piemonte-musei.jsonl": 100,
    "nl-amsterdam-attracties.jsonl": 80,
    "nl-amsterdam-eten-drinken.jsonl": 40,
}
#: Values read right per language when this test was written: the reader may read more,
#: never fewer (the shares are of the values that state hours).
RIGHT_AT_LEAST = {"ca": 117, "de": 78, "en": 51, "es": 174, "fr": 88, "it": 67, "nl": 101}


def _benchmark(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.hours", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_benchmark("--json"))
    return result


def test_the_corpus_holds_real_values_with_their_expected_hours() -> None:
    readme = (CORPUS / "README.md").read_text("utf-8")
    languages: Counter[str] = Counter()
    for name, count in FILES.items():
        assert name in readme
        values = [json.loads(line) for line in (CORPUS / name).read_text("utf-8").splitlines()]
        assert len(values) == count
        assert len({v["id"] for v in values}) == count
        languages.update(v["language"] for v in values)
        for value in values:
            assert value["text"].strip()
            if value["expected"] is not None:  # every expected string is OSM syntax
                opening_hours.OpeningHours(value["expected"])
    assert sorted(p.name for p in CORPUS.glob("*.jsonl")) == sorted(FILES)
    assert languages == {"ca": 120, "de": 84, "en": 117, "es": 286, "fr": 150, "it": 100, "nl": 120}


def test_at_most_one_percent_is_read_wrongly_and_each_language_reads_its_share(
    run: dict[str, Any],
) -> None:
    figures = run["figures"]
    assert figures["all"]["values"] == sum(FILES.values())
    assert figures["all"]["wrong"] <= 0.01 * figures["all"]["values"]
    for language, at_least in RIGHT_AT_LEAST.items():
        assert figures[language]["right"] >= at_least, (language, figures[language])


@pytest.mark.parametrize(
    ("file", "id", "outcome"),
    [
        ("es-esmadrid.jsonl", "98327", "right"),  # "Miér - Jue: 17:00 - 22:00 h ..."
        ("es-esmadrid.jsonl", "97029", "right"),  # "Consultar web oficial": kept, rightly
        ("es-esmadrid.jsonl", "92193", "right"),  # "todo el día (capilla lateral ...)": kept
        ("fr-musees-de-france.jsonl", "3b5ee527ae372448c848ff1b73f92392fe04cd2a", "right"),
        # "de14h à 17h30 ... tous le jours": "tous le jours" is read as "tous les jours"
        ("fr-musees-de-france.jsonl", "179b325555e20218c8e5064f640acbc2474e7cd3", "right"),
        ("de-berlin-weihnachtsmaerkte-2024.jsonl", "126", "right"),  # "Freitag, 29.11.: 16:00"
        ("de-berlin-weihnachtsmaerkte-2025.jsonl", "118", "right"),  # "LGBTQIA* Winterdays:"
        ("de-berlin-weihnachtsmaerkte-2025.jsonl", "109", "kept"),  # "2. Adventswochenende"
        ("es-esmadrid.jsonl", "95960", "right"),  # "Restaurante: ... Bar Saddle: ...": the first
        ("es-esmadrid.jsonl", "92856", "right"),  # "Julio y Agosto: sólo por la tarde": kept
        ("nl-amsterdam-attracties.jsonl", "3e49f570-4dd9-4fbd-89ae-83f862572725", "right"),
        ("nl-amsterdam-attracties.jsonl", "0a7883b9-89b5-406a-97d6-91bd7190500c", "right"),
        # "The park sites are open year-round. Our parking lots are open from 8 am to
        # sunset.": the parking lots' hours are not the place's
        ("en-nps-parks.jsonl", "6E020F5D-3F97-4A43-88E6-C68254B55F2C/0", "right"),
        ("en-nps-parks.jsonl", "DE0A8012-5324-4F5C-98DA-0EE6589FDFB3/0", "right"),  # "between"
        ("it-piemonte-musei.jsonl", "58", "right"),  # "Borgo: ... Rocca: ...": the first part
        ("it-piemonte-musei.jsonl", "124", "right"),  # "Preferibilmente su prenotazione."
        ("it-piemonte-musei.jsonl", "126", "kept"),  # "8,30-17,30 per visite guidate ..."
        ("it-piemonte-musei.jsonl", "131", "right"),  # "Dall'ultima domenica di ottobre ..."
        ("it-piemonte-musei.jsonl", "57", "right"),  # "chiuso lunedì pomeriggio e martedì ..."
        ("it-piemonte-musei.jsonl", "143", "right"),  # "(al mattino solo per scolaresche ...)"
        ("it-piemonte-musei.jsonl", "140", "kept"),  # "seconda domenica di ogni mese"
        ("es-esmadrid.jsonl", "91766", "right"),  # "Domingos y lunes noche: cerrado"
    ],
)
def test_values_are_judged_right_kept_or_wrong(
    run: dict[str, Any], file: str, id: str, outcome: str
) -> None:
    (found,) = [o for o in run["outcomes"] if (o["file"], o["id"]) == (file, id)]
    assert found["outcome"] == outcome


def test_without_the_record_language_the_reader_finds_it() -> None:
    figures = json.loads(_benchmark("--detect", "--json"))["figures"]
    assert figures["all"]["wrong"] <= 0.01 * figures["all"]["values"]
    for language, at_least in RIGHT_AT_LEAST.items():
        assert figures[language]["right"] >= at_least, (language, figures[language])


def test_the_benchmark_prints_the_figures_per_language() -> None:
    header, *rows = _benchmark().splitlines()
    assert header.split() == [
        "language", "values", "hours", "read", "right", "kept", "as", "text", "read", "wrong",
    ]  # fmt: skip
    assert [row.split()[0] for row in rows[:8]] == ["ca", "de", "en", "es", "fr", "it", "nl", "all"]
    assert rows[7].split()[1:3] == ["977", "745"]
