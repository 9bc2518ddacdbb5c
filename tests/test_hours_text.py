"""Free-text opening hours in es, ca, pt, en, de, fr, it and nl: what is read becomes an
OSM string (and rows); what is not hours is kept as text, never guessed."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_core.builtin.hours import opening_hours_fields
from pipeline_core.builtin.hours_text import text_to_osm
from pipeline_core.exceptions import PartialTransformError
from pipeline_core.transforms import TransformContext


@pytest.mark.parametrize(
    ("language", "text", "osm"),
    [
        (
            "es",
            "De lunes a sábado de 9 a 20 horas. Domingos y festivos de 9 a 14 horas. "
            "Cerrado 1 enero, 1 mayo y 25 diciembre.",
            "Mo-Sa 09:00-20:00; Su,PH 09:00-14:00; Jan 01,May 01,Dec 25 off",
        ),
        ("es", "Sáb y dom: 12:00 - 18:00 h", "Sa,Su 12:00-18:00"),
        ("es", "9:30 a 20:30 horas", "Mo-Su 09:30-20:30"),
        ("es", "De martes a domingo de 10 a 14 h y de 17 a 20 h", "Tu-Su 10:00-14:00,17:00-20:00"),
        ("ca", "De dilluns a divendres de 10 a 14 h", "Mo-Fr 10:00-14:00"),
        ("pt", "De segunda a sexta das 9h às 18h", "Mo-Fr 09:00-18:00"),
        ("en", "Mon-Fri 10am\u20134pm", "Mo-Fr 10:00-16:00"),  # an en dash
        ("en", "Open daily 10am - 6pm. Closed 25 December", "Mo-Su 10:00-18:00; Dec 25 off"),
        (
            "de",
            "Montag bis Freitag 9.00-17.00 Uhr; Samstag 10-14 Uhr",
            "Mo-Fr 09:00-17:00; Sa 10:00-14:00",
        ),
        (
            "fr",
            "Du lundi au vendredi de 9h à 12h et de 14h à 18h. Fermé le dimanche.",
            "Mo-Fr 09:00-12:00,14:00-18:00; Su off",
        ),
        ("fr", "fermé le lundi", "Mo off"),
        (
            "it",
            "Dal lunedì al venerdì dalle 9 alle 13 e dalle 15 alle 19",
            "Mo-Fr 09:00-13:00,15:00-19:00",
        ),
        ("nl", "Maandag t/m vrijdag 10.00 - 17.00 uur", "Mo-Fr 10:00-17:00"),
    ],
)
def test_free_text_hours_are_read(language: str, text: str, osm: str) -> None:
    assert text_to_osm(text, language) == osm


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "Consultar web oficial"),
        ("es", "según espectáculo"),
        ("es", "Verano: de 10 a 21 h"),  # a season: not read (yet), so not guessed
        ("en", "Ring ahead"),
        ("de", "Täglich 10-18 Uhr, Montag Ruhetag außer in den Ferien"),
        ("fr", "Se renseigner à l'office de tourisme"),
    ],
)
def test_what_is_not_hours_is_not_guessed(language: str, text: str) -> None:
    assert text_to_osm(text, language) is None


def test_the_transform_reads_text_in_the_source_language_and_keeps_the_rest() -> None:
    spain = TransformContext("s", {"language": "es"})
    out = opening_hours_fields("Sáb y dom: 12:00 - 18:00 h", context=spain)
    assert out == {
        "opening_hours": [
            {"weekday": 5, "opens": "12:00", "closes": "18:00"},
            {"weekday": 6, "opens": "12:00", "closes": "18:00"},
        ],
        "opening_hours_osm": "Sa,Su 12:00-18:00",
    }
    closures: dict[str, Any] = opening_hours_fields(
        "Cerrado 1 enero, 1 mayo y 25 diciembre", format="text", context=spain
    )
    assert closures["opening_hours_osm"] == "Jan 1,May 1,Dec 25 closed"
    with pytest.raises(PartialTransformError) as raised:
        opening_hours_fields("Consultar web oficial", format="text", context=spain)
    assert raised.value.kept == {"opening_hours_text": "Consultar web oficial"}
    assert str(raised.value) == (
        "not opening hours in OpenStreetMap syntax or in free text the reader knows (es)"
    )
