"""Free-text opening hours in es, ca, pt, en, de, fr, it and nl: what is read becomes an
OSM string (and rows); what is not hours is kept as text, never guessed."""

from __future__ import annotations

from typing import Any

import opening_hours
import pytest

from pipeline_core.builtin.hours import opening_hours_fields
from pipeline_core.builtin.hours_text import read_text, text_to_osm
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


@pytest.mark.parametrize(
    ("language", "text", "osm"),
    [
        # closures on dates, in every language
        (
            "ca",
            "De dimarts a diumenge de 10 a 14 h. Tancat l'1 de gener i el 25 de desembre",
            "Tu-Su 10:00-14:00; Jan 01,Dec 25 off",
        ),
        (
            "pt",
            "De terça a domingo das 10h às 18h. Encerrado a 1 de janeiro e 25 de dezembro",
            "Tu-Su 10:00-18:00; Jan 01,Dec 25 off",
        ),
        ("en", "Open daily 10am - 6pm. Closed 25 and 26 December",
         "Mo-Su 10:00-18:00; Dec 25,Dec 26 off"),
        ("de", "Di-So 10-18 Uhr. Geschlossen am 24. und 25. Dezember",
         "Tu-Su 10:00-18:00; Dec 24,Dec 25 off"),
        (
            "fr",
            "Ouvert tous les jours de 10h à 18h. Fermé le 1er janvier et le 25 décembre",
            "Mo-Su 10:00-18:00; Jan 01,Dec 25 off",
        ),
        (
            "it",
            "Dal martedì alla domenica dalle 9 alle 19. Chiuso il 1° gennaio e il 25 dicembre",
            "Tu-Su 09:00-19:00; Jan 01,Dec 25 off",
        ),
        (
            "nl",
            "Di t/m zo 10.00 - 17.00 uur. Gesloten op 1 januari en 25 december",
            "Tu-Su 10:00-17:00; Jan 01,Dec 25 off",
        ),
        (
            "es",
            "Cerrado los lunes, días 1 y 6 de enero, 1 de mayo y 24, 25 y 31 de diciembre.",
            "Mo off; Jan 01,Jan 06,May 01,Dec 24,Dec 25,Dec 31 off",
        ),
        # seasons, with and without a year
        ("es", "Del 1 de abril al 15 de junio de 10 a 21 horas", "Apr 01-Jun 15 Mo-Su 10:00-21:00"),
        (
            "fr",
            "Ouvert du 2 mai au 2 octobre 2011 les vendredis, samedis de 14h à 17h",
            "2011 May 02-2011 Oct 02 Fr,Sa 14:00-17:00",
        ),
        ("de", "April bis Oktober: Di-So 10-18 Uhr", "Apr-Oct Tu-Su 10:00-18:00"),
        ("it", "Da aprile a ottobre dal martedì alla domenica dalle 10 alle 18",
         "Apr-Oct Tu-Su 10:00-18:00"),
        ("en", "April to October: daily 10am-5pm", "Apr-Oct Mo-Su 10:00-17:00"),
        ("nl", "April t/m oktober: dagelijks 10.00-17.00 uur", "Apr-Oct Mo-Su 10:00-17:00"),
        ("ca", "De juny a setembre, cada dia de 10 a 20 h", "Jun-Sep Mo-Su 10:00-20:00"),
        ("pt", "De junho a setembro, todos os dias das 10h às 19h", "Jun-Sep Mo-Su 10:00-19:00"),
        (
            "fr",
            "Ouvert du mercredi au lundi du 2 mai au 31 octobre de 9h30 à 18h et du 2 novembre "
            "au 30 avril de 10h à 17h",
            "May 02-Oct 31 Mo,We-Su 09:30-18:00; Nov 02-Apr 30 Mo,We-Su 10:00-17:00",
        ),
        (
            "es",
            "Horario de invierno (de noviembre a abril) De martes a sábado: de 9:30 a 18:30. "
            "Horario de verano (de mayo a octubre) De martes a sábado: de 9:30 a 20:30.",
            "Nov-Apr Tu-Sa 09:30-18:30; May-Oct Tu-Sa 09:30-20:30",
        ),
        # "except"
        ("de", "Täglich außer Montag 10-18 Uhr", "Tu-Su 10:00-18:00"),
        ("fr", "Ouvert tous les jours de 10h à 18h sauf le mardi", "Mo-Su 10:00-18:00; Tu off"),
        (
            "es",
            "Abierto todos los días de 10 a 14 horas, excepto 25 de diciembre y 1 de enero",
            "Mo-Su 10:00-14:00; Dec 25,Jan 01 off",
        ),
        ("en", "Daily 9am-5pm except Mondays", "Mo-Su 09:00-17:00; Mo off"),
        ("it", "Tutti i giorni dalle 9 alle 18 tranne il lunedì", "Mo-Su 09:00-18:00; Mo off"),
        ("nl", "Dagelijks 10-17 uur behalve maandag", "Mo-Su 10:00-17:00; Mo off"),
        ("ca", "Cada dia de 10 a 19 h excepte dilluns", "Mo-Su 10:00-19:00; Mo off"),
        ("pt", "Todos os dias das 10h às 18h, exceto segunda-feira", "Mo-Su 10:00-18:00; Mo off"),
        # "every day ..., Monday closed"
        ("de", "Täglich 10-18 Uhr, Montag Ruhetag", "Mo-Su 10:00-18:00; Mo off"),
        ("es", "Lun \u2013 vier: 8:30 \u2013 14:00 h Cerrado: sábado, domingo, festivos, 24 y "
               "31 diciembre",
         "Mo-Fr 08:30-14:00; Sa,Su,PH off; Dec 24,Dec 31 off"),
        # hours added to some of the days
        ("fr", "Ouvert le lundi, mercredi, jeudi et vendredi de 8h00 à 13h15 et Lundi et Jeudi "
               "de 15h00 à 17h45", "Mo,We-Fr 08:00-13:15; Mo,Th 08:00-13:15,15:00-17:45"),
        ("es", "De martes a sábado de 9:30 a 15 horas. Jueves de 17 a 20 horas.",
         "Tu-Sa 09:30-15:00; Th 09:30-15:00,17:00-20:00"),
        # all day, midnight, past midnight
        ("es", "Abierto todo el día", "Mo-Su 00:00-24:00"),
        ("es", "Mar \u2013 jue: 13:30 \u2013 24:00 h Vier \u2013 sáb: 13:30 \u2013 24:30 h",
         "Tu-Th 13:30-24:00; Fr,Sa 13:30-24:30"),
    ],
)  # fmt: skip
def test_seasons_closures_and_exceptions_are_read(language: str, text: str, osm: str) -> None:
    assert text_to_osm(text, language) == osm
    opening_hours.OpeningHours(osm)  # and OSM's own parser accepts it


@pytest.mark.parametrize(
    ("text", "osm"),
    [
        ("Dal lunedì al venerdì dalle 9 alle 13", "Mo-Fr 09:00-13:00"),
        ("Maandag t/m vrijdag 10.00 - 17.00 uur", "Mo-Fr 10:00-17:00"),
        ("Montag bis Freitag 9-17 Uhr", "Mo-Fr 09:00-17:00"),
        ("Du lundi au vendredi de 9h à 12h", "Mo-Fr 09:00-12:00"),
    ],
)
def test_without_a_language_the_first_that_reads_the_text_is_used(text: str, osm: str) -> None:
    assert text_to_osm(text) == osm


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "Ouvert du mardi au dimanche de 14h à 18h et"),  # cut off: the rest is unknown
        ("es", "Sólo visitas de grupo con cita previa: de lunes a viernes, de 10 a 14 horas."),
        ("fr", "Lundi et mardi de 9h à 12h, mardi et mercredi de 14h à 18h"),  # adds or replaces?
        ("fr", "Ouvert du 1er février au 31 mai de 14h à 18h et du 1er juin au 30 septembre de "
               "10h à 12h du mardi au dimanche"),  # which days from February to May?
        ("fr", "Ouvert du 1er avril au 17 juin puis du 1er juillet au 14 octobre."),  # no hours
        ("es", "Verano: jue \u2013 sáb: 19:30 \u2013 22:30"),  # which months?
        ("es", "Cerrado: lunes y festivos locales."),  # which holidays?
    ],
)  # fmt: skip
def test_what_a_reader_cannot_settle_is_kept(language: str, text: str) -> None:
    assert text_to_osm(text, language) is None


def test_a_remark_is_left_out_of_the_rows_and_the_text_is_kept_beside_them() -> None:
    text = "De martes a domingo de 10 a 18 horas (último pase a las 17 horas)"
    assert read_text(text, "es") == ("Tu-Su 10:00-18:00", True)
    out = opening_hours_fields(text, format="text", language="es")
    assert out["opening_hours_osm"] == "Tu-Su 10:00-18:00"
    assert [row["weekday"] for row in out["opening_hours"]] == [1, 2, 3, 4, 5, 6]
    assert out["opening_hours_text"] == text
    local = "Cerrado: todos los lunes del año y dos festivos locales."  # not datable
    assert read_text(local, "es") == ("Mo off", True)
    plain = opening_hours_fields("De martes a domingo de 10 a 18 horas", language="es")
    assert "opening_hours_text" not in plain


@pytest.mark.parametrize(
    ("language", "text", "osm"),
    [
        # dates in figures, days named for a date, a weekday naming the date after it
        (
            "de",
            "Mo.-Sa. 11.00-21.00 Uhr | So. 13.00-19.00 Uhr | 24.-26.12.2025 geschlossen",
            "Mo-Sa 11:00-21:00; Su 13:00-19:00; 2025 Dec 24-2025 Dec 26 off",
        ),
        (
            "de",
            "Freitag, 29.11.: 16:00 - 20:00 Uhr Samstag, 30.11.: 12:00 - 19:00 Uhr",
            "Nov 29 Mo-Su 16:00-20:00; Nov 30 Mo-Su 12:00-19:00",
        ),
        (
            "de",
            "06.12.2025: 14:00 - 20:00 Uhr | 07.12.2025: 13:00 - 19:00 Uhr",
            "2025 Dec 06 Mo-Su 14:00-20:00; 2025 Dec 07 Mo-Su 13:00-19:00",
        ),
        (
            "de",
            "Mo-Do: 13:00 - 22:00 Uhr Fr-So: 12:00 - 22:00 Uhr Heilig Abend geschlossen "
            "1./2. Weihnachtsfeiertag 12:00 - 22:00 Uhr",
            "Mo-Th 13:00-22:00; Fr-Su 12:00-22:00; Dec 25,Dec 26 Mo-Su 12:00-22:00; Dec 24 off",
        ),
        (
            "de",
            "Am 24.11. (Totensonntag) bleibt der Markt geschlossen. Täglich 11-20 Uhr",
            "Mo-Su 11:00-20:00; Nov 24 off",
        ),
        (
            "en",
            "Daily 10am-6pm. Closed Christmas Day and Boxing Day",
            "Mo-Su 10:00-18:00; Dec 25,Dec 26 off",
        ),
        (
            "nl",
            "Dagelijks 10.00 - 17.00 uur, gesloten op eerste kerstdag",
            "Mo-Su 10:00-17:00; Dec 25 off",
        ),
        (
            "de",
            "So-Do | 11-21 Uhr | Fr-Sa | 11-22 Uhr | 24.12.: geschlossen | 25.-26.12.: 11-18 uhr",
            "Mo-Th,Su 11:00-21:00; Fr,Sa 11:00-22:00; Dec 25-Dec 26 Mo-Su 11:00-18:00; Dec 24 off",
        ),
        # closed dates are exceptions to the hours, wherever the text names them
        (
            "es",
            "Cerrado 1 de mayo. Todos los días de 10 a 18 horas",
            "Mo-Su 10:00-18:00; May 01 off",
        ),
        # a weekday one letter off; a phone number is words
        (
            "es",
            "Martes a sábados: 11:00 - 14:00 h / 16:00 - 20:00 h Cerrado: lunes y domigos",
            "Tu-Sa 11:00-14:00,16:00-20:00; Mo,Su off",
        ),
        (
            "es",
            "Abierto todos los días de 10 a 14 horas. Información: 914 786 572",
            "Mo-Su 10:00-14:00",
        ),
        # meals: labels when the text opens with one, else parts of the hours
        (
            "es",
            "Lun \u2013 dom: 13:00 \u2013 01:00 h Comidas: 13:00 \u2013 16:00 h "
            "Cenas: 20:00 \u2013 24:00 h",
            "Mo-Su 13:00-01:00",
        ),
        (
            "es",
            "Comidas: Mar \u2013 sáb: 13:00 \u2013 17:00 h "
            "Cenas: Mar \u2013 sáb: 20:00 \u2013 medianoche",
            "Tu-Sa 13:00-17:00; Tu-Sa 13:00-17:00,20:00-24:00",
        ),
        ("es", "Lunes: 9:00 \u2013 17:00 h Brunch: sábados y domingos", "Mo 09:00-17:00"),
        # a season that changes the hours of its days only
        (
            "es",
            "De martes a sábado de 9:30 a 19 horas. Verano (julio y agosto): los jueves se "
            "amplía el horario de 9:30 a 22:30 horas.",
            "Tu-Sa 09:30-19:00; Jul,Aug Th 09:30-22:30",
        ),
        # Easter's closures among closed dates are left out
        (
            "es",
            "De martes a domingo de 10 a 14 horas. Cerrado los días 1 y 6 de enero, Jueves y "
            "Viernes Santos, 12 de octubre.",
            "Tu-Su 10:00-14:00; Jan 01,Jan 06 off; Oct 12 off",
        ),
        # French slips of the Musées de France: "tous le jours", "dun", "jours féris", a
        # weekday or month run together with the "de"/"du" after it
        ("fr", "Ouvert tous le jours de 10h30 à 18h30", "Mo-Su 10:30-18:30"),
        (
            "fr",
            "Ouvert dun 1er février au 31 décembre du mardi au dimanche de 14h à 18h",
            "Feb 01-Dec 31 Tu-Su 14:00-18:00",
        ),
        (
            "fr",
            "Ouvert le lundi de 14h à 18h, les week-ends et jours féris de 10h à 12h",
            "Mo 14:00-18:00; Sa,Su,PH 10:00-12:00",
        ),
        (
            "fr",
            "Ouvert d'avril à septembre mercredi, jeudi, samedi, dimanchede 14h à 18h",
            "Apr-Sep We,Th,Sa,Su 14:00-18:00",
        ),
        (
            "fr",
            "Ouvert en juillet-aoûtdu mercredi au lundi de 10h à 12h",
            "Jul-Aug Mo,We-Su 10:00-12:00",
        ),
        # a year before closed dates is theirs, as a year after them is
        (
            "es",
            "De martes a domingo de 11 a 20 horas Lunes cerrado Durante 2018 el Museo "
            "permanecerá cerrado los días: 1 y 6 de enero 24 , 25 y 31 de diciembre",
            "Tu-Su 11:00-20:00; Mo off; "
            "2018 Jan 01,2018 Jan 06,2018 Dec 24,2018 Dec 25,2018 Dec 31 off",
        ),
        # a part of the place that opens a bracket ends with it: Sunday is the place's
        (
            "es",
            "Sábados: 10:00 \u2013 21:00 h (visitas guiadas en castellano a las 17:00 h) "
            "Domingos: 8:30 \u2013 18:00 h",
            "Sa 10:00-21:00; Su 08:30-18:00",
        ),
    ],
)
def test_dates_named_days_meals_and_typos_are_read(language: str, text: str, osm: str) -> None:
    assert text_to_osm(text, language) == osm
    opening_hours.OpeningHours(osm)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "Semana Santa: de 10 a 14 horas"),  # Easter's days: when? not guessed
        ("de", "Karfreitag 10-14 Uhr"),
        ("es", "Lunes y dimingos y sábados"),  # "dimingos" is read as Sunday: no hours
        ("es", "Lunes a sábado de 10 a 14 h. Domingo no abrimos"),  # too far from a name
        # a year before a closure with its hours: not a list of closed dates
        (
            "es",
            "De martes a domingo de 11 a 20 horas. Durante 2018 el museo permanecerá "
            "cerrado el 24 de diciembre de 14 a 20 horas.",
        ),
    ],
)
def test_what_the_new_words_cannot_settle_is_kept(language: str, text: str) -> None:
    assert text_to_osm(text, language) is None


@pytest.mark.parametrize(
    ("language", "text", "osm"),
    [
        # English prose: the place named before "is open", solar times, a 12-hour clock
        ("en", "Fort Example is open from 9:00am to 4:30pm, every day.", "Mo-Su 09:00-16:30"),
        ("en", "The grounds are open daily from dawn to dusk.", "Mo-Su sunrise-sunset"),
        ("en", "The park is always open.", "Mo-Su 00:00-24:00"),
        (
            "en",
            "Open year-round from 1/2 hour before sunrise to a 1/2 hour after sunset.",
            "Mo-Su (sunrise-00:30)-(sunset+00:30)",
        ),
        ("en", "Park Hours are 9:00 - 5:00 Central Time Daily", "Mo-Su 09:00-17:00"),
        ("en", "Trails are open year-round between 6 AM and midnight.", "Mo-Su 06:00-24:00"),
        # Italian labelled fields: notes left out, the year's closures read, the first part
        (
            "it",
            "Orario: martedì-domenica 10,00-18,00. Lunedì chiuso. Chiusure festività annuali: "
            "1 Gennaio, Pasqua, 25 Dicembre Aperture straordinarie: 2 Giugno Tipo ingresso: "
            "A pagamento",
            "Tu-Su 10:00-18:00; Mo off; Jan 01 off; Dec 25 off",
        ),
        (
            "it",
            "Orario: Borgo: lunedì-domenica 9.00-19.00. Rocca: martedì-domenica 10.00-19.00, "
            "lunedì chiuso.",
            "Mo-Su 09:00-19:00",
        ),
        (
            "it",
            "Orario: aperto dal 1 aprile al 30 settembre. Orari: 10.00-12.00, 15.00-18.00.",
            "Apr 01-Sep 30 Mo-Su 10:00-12:00,15:00-18:00",
        ),
        (
            "it",
            "Orario: tutti i giorni 9.00-18.00, ultimo ingresso ore 17.00 Chiuso dal 8 al 21 "
            "agosto 2016",
            "Mo-Su 09:00-18:00; 2016 Aug 08-2016 Aug 21 off",
        ),
    ],
)
def test_english_prose_and_italian_labelled_fields_are_read(
    language: str, text: str, osm: str
) -> None:
    assert text_to_osm(text, language) == osm
    opening_hours.OpeningHours(osm)


@pytest.mark.parametrize(
    ("language", "text", "osm"),
    [
        ("it", "Orario: domenica e festività 10.00-13.00", "Su,PH 10:00-13:00"),
        # a remark about visits takes its bracket and its sentence with it
        (
            "it",
            "Orario: sabato 10.00-13.00 con visite guidate (partenza ogni ora). La durata "
            "della visita è di circa 1 ora.",
            "Sa 10:00-13:00",
        ),
        # a zero left out of a time between two others
        (
            "it",
            "Orario: mercoledì - domenica: 10.00-13.0 / 16.00-20.00",
            "We-Su 10:00-13:00,16:00-20:00",
        ),
        # the weekdays of groups by appointment go with them
        (
            "it",
            "Orario: sabato-domenica 10.00-12.00, in settimana visitabile per i gruppi su "
            "prenotazione.",
            "Sa,Su 10:00-12:00",
        ),
        # the last entry's times per day are the remark's, not hours
        (
            "it",
            "Orario: martedì-sabato 10.00-17.00, domenica 14.00-17.30, ultimo ingresso 16.45 "
            "in settimana, 17.15 domenica.",
            "Tu-Sa 10:00-17:00; Su 14:00-17:30",
        ),
        (
            "it",
            "Orario: lunedì-venerdì 9:00-12:00, domenica 15:00-18:00. Chiuso il sabato, le "
            "visite al parco sono libere.",
            "Mo-Fr 09:00-12:00; Su 15:00-18:00; Sa off",
        ),
        # a change until a date of the past, with no start, is left out
        (
            "it",
            "Orario: martedì-domenica 9.00-19.00. Fino al 29/09/2016 il giovedì orario "
            "prolungato fino alle 22.00.",
            "Tu-Su 09:00-19:00",
        ),
        # another body named for information, with its office hours: left out
        (
            "it",
            "Orario: luglio-settembre: martedì-domenica 10.00-12.00, lunedì chiuso. Per "
            "informazioni Associazione Ecomuseo Tel. 0323.89622, orari: lunedì-venerdì "
            "9.00-13.00 Chiusure festività annuali: 1 Gennaio",
            "Jul-Sep Tu-Su 10:00-12:00; Jul-Sep Mo off; Jan 01 off",
        ),
        # the last (first, second ...) weekday of a month
        (
            "it",
            "Orario: dall'ultima domenica di ottobre all'ultimo sabato di marzo: sabato "
            "10.00-12.30",
            "Oct Su[-1]-Mar Sa[-1] Sa 10:00-12:30",
        ),
        (
            "en",
            "Open from the last Sunday of October to the last Saturday of March, Saturdays "
            "10am-4pm.",
            "Oct Su[-1]-Mar Sa[-1] Sa 10:00-16:00",
        ),
        (
            "es",
            "Del último domingo de octubre al último sábado de marzo: sábados de 10 a 14 h",
            "Oct Su[-1]-Mar Sa[-1] Sa 10:00-14:00",
        ),
        # a closed morning or afternoon: the hours agree, or that half's hours go
        (
            "it",
            "Orario: lunedì 10.00-14.00, martedì 14.00-19.00, chiuso lunedì pomeriggio e "
            "martedì mattina.",
            "Mo 10:00-14:00; Tu 14:00-19:00",
        ),
        (
            "it",
            "Orario: lunedì-venerdì 9.00-12.00, 15.00-18.00, chiuso venerdì pomeriggio e sabato",
            "Mo-Fr 09:00-12:00,15:00-18:00; Fr 09:00-12:00; Sa off",
        ),
        (
            "fr",
            "Du lundi au vendredi de 9h à 12h et de 14h à 18h, fermé le vendredi après-midi.",
            "Mo-Fr 09:00-12:00,14:00-18:00; Fr 09:00-12:00",
        ),
        (
            "es",
            "Lunes a sábado: 13:30 - 15:15 h / 21:00 - 23:15 h Domingos y lunes noche: cerrado",
            "Mo-Sa 13:30-15:15,21:00-23:15; Mo 13:30-15:15; Su off",
        ),
        # whole months with their years
        (
            "it",
            "Orario: Da settembre 2011 a giugno 2012 venerdì e sabato dalle 9,00 alle 12,00",
            "2011 Sep 01-2012 Jun 30 Fr,Sa 09:00-12:00",
        ),
        (
            "es",
            "De septiembre a junio de 2012, viernes de 9 a 12 h",
            "2011 Sep 01-2012 Jun 30 Fr 09:00-12:00",
        ),
        # always open, at any hour; the place as the subject of "è aperto"
        (
            "it",
            "Orario: museo all'aria aperta, visitabile liberamente in tutti i giorni "
            "dell'anno, a qualsiasi ora.",
            "Mo-Su 00:00-24:00",
        ),
        ("it", "Orario: il museo è sempre visitabile.", "Mo-Su 00:00-24:00"),
        ("it", "Orario: sabato il museo è aperto 10-12", "Sa 10:00-12:00"),
        # a season by appointment for groups, between commas, goes with them
        (
            "it",
            "Orario: Chiuso novembre-marzo, su prenotazione per gruppi e scuole aprile-giugno, "
            "luglio-settembre: sabato-domenica 10.00-13.00, 14.00-18.00.",
            "Jul-Sep Sa,Su 10:00-13:00,14:00-18:00; Nov-Mar off",
        ),
        # a morning for schools and groups only is not the public's; "with" opens a remark
        (
            "it",
            "Orario: lunedì-giovedì: 9.00-12.30, 15.00-18.00 (al mattino solo per scolaresche "
            "o gruppi su prenotazione), venerdì 9.00-12.30 (al mattino solo per scolaresche o "
            "gruppi su prenotazione), chiuso venerdì pomeriggio e sabato. Per prenotazioni "
            "contattare il numero 0172.412010. Domenica 10.00-12.30 con servizio di visita "
            "guidata compresa. Chiusure festività annuali: 1 Gennaio",
            "Mo-Th 15:00-18:00; Fr off; Sa off; Su 10:00-12:30; Jan 01 off",
        ),
        # weekdays for groups by appointment: the season's other days stay
        (
            "it",
            "Orario: novembre-marzo: lunedì-venerdì per gruppi su appuntamento, domenica chiuso "
            "(apertura in occasione delle mostre temporanee). Giugno-ottobre: lunedì-sabato per "
            "gruppi su appuntamento, domenica 10.00-13.00, 14.00-18.00.",
            "Nov-Mar Su off; Jun-Oct Su 10:00-13:00,14:00-18:00",
        ),
        (
            "it",
            "Orario: novembre-maggio: lunedì-domenica su prenotazione, giugno-ottobre: sabato "
            "10.00-12.00",
            "Jun-Oct Sa 10:00-12:00",
        ),
        # a named period and its dates
        (
            "it",
            "Orario: lunedì-domenica 9.00-19.00. Durante il periodo Ostensione 19 aprile/24 "
            "giugno il museo è aperto dalle ore 9 alle ore 21, senza pausa pranzo.",
            "Mo-Su 09:00-19:00; Apr 19-Jun 24 off; Apr 19-Jun 24 Mo-Su 09:00-21:00",
        ),
    ],
)
def test_more_italian_shapes_are_read(language: str, text: str, osm: str) -> None:
    assert text_to_osm(text, language) == osm
    opening_hours.OpeningHours(osm)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("it", "Orario: lunedì-venerdì 9.00-18.00, chiuso venerdì pomeriggio"),  # until when?
        ("es", "Lunes a sábado: 13:30 - 23:15 h. Lunes noche: cerrado"),
        ("fr", "Du mardi au dimanche de 10h à 18h. Fermé le lundi matin."),  # Monday when?
        ("it", "Orario: seconda domenica del mese 15.00-17.00"),  # no month: not a date
        # a closure until a date is no change to leave out
        ("it", "Orario: martedì-domenica 9.00-19.00. Fino al 31/12/2030 chiuso per restauro."),
        # the season is the groups' or the hours'? not guessed
        ("it", "Orario: su prenotazione per gruppi aprile-giugno: sabato 10.00-12.00"),
    ],
)
def test_what_the_italian_shapes_leave_unsettled_is_kept(language: str, text: str) -> None:
    assert text_to_osm(text, language) is None


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # a later subject names a part: its hours are not the place's
        (
            "en",
            "The park sites are open year-round. Our parking lots are open from 8 am to sunset.",
        ),
        ("en", "Recommended visiting hours are sunrise - sunset."),
        ("en", "The park is open every day."),  # days, no hours
        ("en", "Open Sundays 12:00pm to 4:00pm for guided tours."),
        ("it", "Orario: Il Forte è attualmente chiuso"),
        # the hours of guided visits by appointment are not opening hours
        (
            "it",
            "Orario: lunedì-venerdì 8,30-17,30 per visite guidate su prenotazione, "
            "domenica 10,00-13,00",
        ),
    ],
)
def test_what_english_prose_and_italian_fields_leave_unsettled_is_kept(
    language: str, text: str
) -> None:
    assert text_to_osm(text, language) is None
