"""Free-text opening hours in es, ca, pt, en, de, fr, it and nl, read into OSM syntax.

"De lunes a sábado de 9 a 20 horas. Domingos y festivos de 9 a 14 horas. Cerrado 1 enero,
1 mayo y 25 diciembre." becomes ``Mo-Sa 09:00-20:00; Su,PH 09:00-14:00; Jan 01,May 01,Dec
25 off``, which :mod:`pipeline_core.builtin.hours` checks with ``opening-hours-py`` and
turns into rows. The reader is strict on purpose: every word of the text must be a
weekday, a month, a time, a date, or a word of the language's small vocabulary (ranges,
lists, "every day", weekends, holidays, "closed", "except", "from"); a text with any other
word ("Consultar web oficial", "según espectáculo", "Verano") is not read, and the
transform keeps it as text and reports it. A wrong row is worse than a kept sentence.

What it reads: weekdays, their ranges and lists ("Lun - vier", "Sáb y dom"), "every day",
weekends, public holidays; times in 12 and 24 hour forms ("9:30 a 20:30 horas", "de 9 a
14 h", "10am-4pm", "9.00-17.00 Uhr", "14h30"), split periods ("10 - 14 h / 17 - 20 h");
seasons with or without a year ("Del 1 de abril al 15 de junio", "d'avril à octobre",
"du 2 mai au 2 octobre 2011", "juillet-août", "l'ultima domenica di ottobre");
closures on weekdays, their halves and dates ("Cerrado 1 enero, 1 mayo y 25 diciembre",
"fermé le lundi", "Montag Ruhetag", "chiuso lunedì pomeriggio"); and "except" ("Täglich
außer Montag 10-18 Uhr", "tous les jours sauf le mardi").

Weekday and month names come from Babel's CLDR data (well kept, every language), with
their plurals and unambiguous prefixes ("vier", "sept"); the small words are ours.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from babel import Locale

from pipeline_core.builtin.osm_syntax import OSM_DAYS, OSM_MONTHS, osm_days

LANGUAGES = ("es", "ca", "pt", "en", "de", "fr", "it", "nl")

#: Per language: words joining a range, a list, meaning every day, the weekend, Monday to
#: Friday, public holidays, closed, except, and words that carry no meaning here.
_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "in": ("en",),
        "range": ("a", "al", "hasta", "-"),
        "list": ("y", "e", ",", "/", "&"),
        "every": ("todos los dias", "diario", "diariamente", "cada dia"),
        "weekend": ("fines de semana", "fin de semana"),
        "holiday": ("festivos", "festivo", "dias festivos", "feriados", "fest", "fiestas"),
        "closed": ("cerrado", "cerrada", "cerrados", "cerradas", "descanso", "cierra",
                   "cierre semanal", "permanecera cerrado", "permanecera cerrada"),
        "except": ("excepto", "salvo", "menos"),
        "amend": ("se amplia el horario", "se amplia el horario de", "amplia su horario"),
        "noise": ("de", "desde", "las", "los", "el", "la", "horas", "hora", "h", "hrs", "hs",
                  "abierto", "abierta", "horario", "del", "apertura", "dias", "dia",
                  "todo el ano", "horario de apertura", "y de", "de la manana", "todos los",
                  "todas las", "del ano", "al publico", "365 dias", "ininterrumpidamente",
                  "incluidos festivos", "incluido festivos", "incluso festivos",
                  "apertura continuada", "continuado", "permanece abierto", "con horario",
                  "mes", "el mes", "mes de", "el mes de", "horario reducido", "horarios",
                  "horarios de apertura", "no festivos"),
    },
    "ca": {
        "range": ("a", "al", "fins", "fins a", "-"),
        "list": ("i", ",", "/", "&"),
        "every": ("cada dia", "tots els dies", "diari", "diariament"),
        "weekend": ("caps de setmana", "cap de setmana"),
        "holiday": ("festius", "festiu", "dies festius", "festes"),
        "closed": ("tancat", "tancada", "tancats"),
        "except": ("excepte", "llevat de", "menys"),
        "noise": ("de", "del", "des", "les", "els", "el", "la", "h", "hores", "hora", "obert",
                  "oberta", "horari", "d'", "l'", "dies", "dia", "tot l'any", "i de"),
    },
    "pt": {
        "range": ("a", "ao", "as", "ate", "-"),
        "list": ("e", ",", "/", "&"),
        "every": ("todos os dias", "diariamente", "diario"),
        "weekend": ("fins de semana", "fim de semana"),
        "holiday": ("feriados", "feriado"),
        "closed": ("encerrado", "fechado", "encerra", "encerrada", "fechada"),
        "except": ("exceto", "excepto", "salvo"),
        "noise": ("de", "das", "dos", "do", "da", "h", "horas", "aberto", "aberta", "horario",
                  "o", "os", "e das", "todo o ano"),
    },
    "en": {
        "range": ("to", "till", "until", "-", "through", "thru"),
        "list": ("and", ",", "/", "&"),
        "every": ("daily", "every day", "7 days", "seven days a week", "7 days a week",
                  "everyday", "each day", "every day of the year", "seven days per week",
                  "7 days per week", "365 days a year", "365 days per year"),
        "weekend": ("weekends", "weekend", "the weekend"),
        "weekdays": ("weekdays",),
        "holiday": ("bank holidays", "public holidays", "holidays", "bank holiday"),
        "closed": ("closed",),
        "except": ("except", "excluding"),
        "noise": ("from", "open", "opening hours", "hours", "hrs", "the", "on",
                  "including", "all year", "all year round", "year round", "year-round",
                  "all year long", "including holidays", "this includes holidays",
                  "open to visitors", "open to the public", "for visitation",
                  "to vehicles", "park hours are",
                  "eastern time", "central time", "mountain time", "pacific time"),
    },
    "de": {
        "range": ("bis", "-"),
        "list": ("und", ",", "/", "&", "sowie"),
        "every": ("taglich", "jeden tag"),
        "weekend": ("wochenende", "am wochenende"),
        "holiday": ("feiertage", "feiertags", "feiertag", "an feiertagen", "feiertagen"),
        "closed": ("geschlossen", "ruhetag", "ruhetage"),
        "except": ("ausser", "auser"),
        "noise": ("von", "ab", "uhr", "geoffnet", "offnungszeiten", "am", "h", "vom",
                  "zum", "an", "ganzjahrig", "jeweils", "und von", "zwischen", "den",
                  "bleibt der markt", "bleibt der weihnachtsmarkt", "bleibt",
                  "voraussichtlich", "vorraussichtlich", "ausnahmeregelung"),
    },
    "fr": {
        "range": ("a", "au", "-", "jusqu'a"),
        "list": ("et", ",", "/", "&"),
        # "tous le jours": a common slip for "tous les jours"
        "every": ("tous les jours", "tous le jours", "7j/7", "7 jours sur 7", "tlj"),
        "weekend": ("week-end", "week-ends", "les week-ends", "le week-end", "week end",
                    "les week-end", "fins de semaine", "weekend", "weekends"),
        "weekdays": ("en semaine",),
        # "jours féris": "fériés" with its second "é" left out, as typed in Muséofile
        "holiday": ("jours feries", "jours feris", "feries", "ferie", "jours de fetes"),
        "closed": ("ferme", "fermee", "fermeture", "fermes"),
        "except": ("sauf",),
        "in": ("en", "et en"),
        "noise": ("de", "du", "des", "le", "les", "h", "heures", "ouvert", "ouverte", "er",
                  "ouverture",
                  "ouverts", "horaires", "l'", "d'", "la", "toute l'annee",
                  "et de", "et le", "et les", "puis", "de l'annee",
                  # "dun": "d'un" with its apostrophe lost ("Ouvert dun 1er février au
                  # 31 décembre"), no French word of its own
                  "dun"),
    },
    "it": {
        "range": ("a", "al", "alla", "alle", "-", "fino a", "fino al", "all'"),
        "list": ("e", "ed", ",", "/", "&"),
        "every": ("tutti i giorni", "ogni giorno", "giornalmente", "tutti i giorni dell'anno",
                  "in tutti i giorni", "in tutti i giorni dell'anno"),
        "weekend": ("fine settimana", "weekend"),
        "weekdays": ("in settimana",),
        "holiday": ("festivi", "giorni festivi", "festivo", "festivita"),
        "closed": ("chiuso", "chiusa", "chiusura", "chiusi", "chiusure festivita annuali",
                   "chiusura estiva", "chiusura invernale"),
        "except": ("tranne", "eccetto", "escluso", "esclusi"),
        "noise": ("dal", "dalle", "da", "di", "il", "la", "ore", "h", "aperto", "aperta",
                  "orario", "orari", "dall'", "i", "lo", "le", "gli", "visitabile", "tutto l'anno",
                  "e dalle",
                  "in orario", "prima della chiusura", "per lavori di manutenzione",
                  "per lavori di restauro", "per lavori", "liberamente", "senza pausa",
                  "senza pausa pranzo", "orario continuato"),
    },
    "nl": {
        "range": ("tot", "t/m", "tm", "-", "tot en met"),
        "list": ("en", ",", "/", "&"),
        "every": ("dagelijks", "elke dag", "alle dagen"),
        "weekend": ("weekend", "weekenden", "in het weekend"),
        "holiday": ("feestdagen", "feestdag"),
        "closed": ("gesloten",),
        "except": ("behalve", "uitgezonderd"),
        "noise": ("van", "vanaf", "uur", "u", "open", "geopend", "openingstijden", "op",
                  "de", "het", "jaarrond", "elke", "iedere", "toelichting"),
    },
}  # fmt: skip

#: Per language: words that open a remark about visits rather than opening hours (last
#: entry, guided tours, groups, ticket desks, "see the website"); the remark runs to the
#: end of its sentence and is left out.
_REMARKS: dict[str, tuple[str, ...]] = {
    "es": ("ultimo pase", "ultimos pases", "ultimo acceso", "ultima admision",
           "ultima entrada", "cierre de taquillas", "cierre taquillas", "el desalojo",
           "las salas se desalojan", "las taquillas", "visitas guiadas", "visita guiada",
           "visitas para grupos", "grupos", "consultar", "consulte", "este horario",
           "estos horarios", "se aconseja", "previa reserva", "venta de entradas",
           "horario de cierre de las taquillas", "entrada libre", "entrada gratuita",
           "talleres", "horario talleres", "horario de talleres", "misa", "misas",
           "horario de misas", "horario de espectaculos", "ultimas mesas", "horario cocina",
           "horario de cocina", "mas informacion", "informacion", "telefono", "reservas",
           "y un festivo local", "un festivo local", "y dos festivos locales",
           "dos festivos locales", "una fiesta local", "y una fiesta local", "brunch",
           "horario gratuito", "exposiciones temporales", "exposicion temporal",
           "exposiciones", "biblioteca", "tienda", "recepcion", "bar", "restaurante",
           "cafeteria", "horario del parque", "horarios de servicio", "horario de servicio",
           "hora tope de entrada"),
    "ca": ("darrer acces", "darrera entrada", "ultima entrada", "visites guiades", "grups",
           "consultar"),
    "pt": ("ultima entrada", "ultimo acesso", "visitas guiadas", "grupos", "consultar"),
    "en": ("last entry", "last admission", "guided tours", "groups", "please check",
           "check the website", "last vehicle entry", "for guided tours"),
    "de": ("letzter einlass", "fuhrungen", "gruppen", "gruppen nach vereinbarung"),
    "fr": ("dernier acces", "derniere entree", "dernieres entrees", "visites guidees",
           "visite guidee", "groupes", "pour les groupes", "pour les groupe",
           "accueil de groupes", "accueil des groupes", "fermeture des caisses",
           "pour les scolaires", "pour les scolaire", "les scolaires", "expositions",
           "exposition"),
    "it": ("ultimo ingresso", "ultimo accesso", "visite guidate", "gruppi", "ultima visita",
           "la biglietteria chiude", "biglietteria", "chiusura della biglietteria",
           "per informazioni", "per maggiori informazioni", "orario della biblioteca",
           "preferibilmente su prenotazione", "per gruppi", "per visite guidate",
           "per visita guidata", "prenotazione obbligatoria", "visita", "visite",
           "biglietto", "il biglietto", "il costo del biglietto", "per prenotazioni",
           "in occasione", "apertura in occasione", "aperture in occasione"),
    "nl": ("laatste toegang", "laatste entree", "rondleidingen", "groepen", "kijk voor",
           "raadpleeg", "zie de website", "zie website"),
}  # fmt: skip

#: Remarks that name another part of the place (its shop, bar, library, exhibitions,
#: masses, free hours): they run to the end of their sentence, days and hours included.
#: Other remarks ("visites guidées à 14h, 15h et 16h") end before ", <weekday>".
_SECTIONS = {
    "horario gratuito", "horario del parque", "biblioteca", "tienda", "recepcion", "bar",
    "restaurante", "cafeteria", "exposiciones", "exposiciones temporales",
    "exposicion temporal", "horario de espectaculos", "horario de misas", "horario cocina",
    "horario de cocina", "talleres", "horario talleres", "horario de talleres",
    "horarios de servicio", "horario de servicio",
    "expositions", "exposition", "visitas guiadas", "visita guiada", "orario della biblioteca",
}  # fmt: skip

#: Per language: meals. A text that opens with one ("Comidas: Mar - sáb: 13:00 - 17:00 h
#: Cenas: Mar - sáb: 20:00 - 24:00 h") gives the hours of its meals, which are the
#: place's; after the place's hours ("Lun - dom: 13:00 - 01:00 h Comidas: 13:00 - 16:00
#: h") a meal names a part of them, left out like the sections above.
_MEALS: dict[str, tuple[str, ...]] = {
    "es": ("comidas", "comida", "cenas", "cena", "almuerzos", "almuerzo", "desayunos",
           "desayuno"),
    "ca": ("dinars", "dinar", "sopars", "sopar", "esmorzars", "esmorzar"),
    "pt": ("almocos", "almoco", "jantares", "jantar"),
    "en": ("lunch", "dinner", "breakfast"),
    "de": ("mittagessen", "abendessen", "fruhstuck", "mittagstisch"),
    "fr": ("dejeuner", "dejeuners", "diner", "diners"),
    "it": ("pranzo", "pranzi", "cena", "cene", "colazione"),
    "nl": ("lunch", "diner", "ontbijt"),
}  # fmt: skip
_MEAL_WORDS = {word for words in _MEALS.values() for word in words}

#: "With", before a remark right after hours ("15.00-18.00 con visita guidata"): its start.
_WITH = {"con", "avec", "with", "mit", "met", "amb", "com"}

#: Remarks naming who the hours are for: right after hours they say whose hours they are.
_AUDIENCES = {
    "grupos", "groups", "gruppen", "groupes", "pour les groupes", "pour les groupe",
    "pour les scolaires", "pour les scolaire", "les scolaires", "gruppi", "per gruppi", "groepen",
    "grups", "per visite guidate", "per visita guidata", "for guided tours",
}  # fmt: skip

#: Per language: names of seasons. One that a season's months or dates follow ("Verano
#: (julio y agosto)") is a heading; anywhere else it is a word the reader does not know.
_SEASON_WORDS: dict[str, tuple[str, ...]] = {
    "es": ("verano", "invierno", "primavera", "otono", "horario de verano",
           "horario de invierno", "temporada alta", "temporada baja"),
    "ca": ("estiu", "hivern", "primavera", "tardor"),
    "pt": ("verao", "inverno", "primavera", "outono"),
    "en": ("summer", "winter", "spring", "autumn", "high season", "low season"),
    "de": ("sommer", "winter", "fruhling", "herbst", "hauptsaison", "nebensaison"),
    "fr": ("ete", "hiver", "printemps", "automne", "haute saison", "basse saison"),
    "it": ("estate", "inverno", "primavera", "autunno", "alta stagione", "bassa stagione",
           "orario estivo", "orario invernale", "ora solare", "ora legale"),
    "nl": ("zomer", "winter", "lente", "herfst", "hoogseizoen", "laagseizoen"),
}  # fmt: skip

#: Per language: closures on days of no fixed date (Easter's), which OSM rows cannot hold:
#: among closed days and dates ("Cerrado: 1 y 6 de enero, Jueves y Viernes Santos, 12 de
#: octubre") they are left out; anywhere else the text is not read.
_UNDATED: dict[str, tuple[str, ...]] = {
    "es": ("jueves y viernes santos", "jueves y viernes santo", "jueves santo", "viernes santo",
           "semana santa", "lunes de pascua", "domingo de resurreccion"),
    "ca": ("setmana santa", "divendres sant", "dilluns de pasqua"),
    "pt": ("sexta-feira santa", "semana santa", "domingo de pascoa"),
    "en": ("good friday", "easter monday", "easter sunday", "easter"),
    "de": ("karfreitag", "ostermontag", "ostersonntag", "ostern", "pfingstmontag", "pfingsten"),
    "fr": ("lundi de paques", "paques", "vendredi saint", "lundi de pentecote", "pentecote"),
    "it": ("pasqua", "lunedi dell'angelo", "pasquetta", "venerdi santo"),
    "nl": ("goede vrijdag", "pasen", "paasmaandag", "tweede paasdag", "pinksteren"),
}  # fmt: skip

#: Per language: "by appointment". Before the hours ("Sólo visitas de grupo con cita previa:
#: de lunes a viernes ...") they say the hours are not opening hours: the text is kept.
_APPOINTMENT: dict[str, tuple[str, ...]] = {
    "es": ("cita previa", "previa cita", "con cita", "por cita previa", "previa reserva",
           "con reserva", "atencion telefonica"),
    "ca": ("cita previa", "amb reserva", "amb cita"),
    "pt": ("marcacao previa", "com marcacao", "mediante marcacao"),
    "en": ("by appointment", "appointment only", "by arrangement"),
    "de": ("nach vereinbarung", "nach voranmeldung", "auf anfrage"),
    "fr": ("sur rendez-vous", "sur rdv", "sur reservation", "rendez-vous"),
    "it": ("su prenotazione", "su appuntamento", "previa prenotazione", "su richiesta",
           "apertura su richiesta", "a richiesta"),
    "nl": ("op afspraak", "na afspraak", "op aanvraag"),
}  # fmt: skip

#: Per language: parts of the day. Before times ("mañanas de 10 a 14 horas tardes de 17:30
#: a 21 horas") they say nothing more; anywhere else ("domingo tarde: cerrado") they do.
_DAY_PARTS: dict[str, tuple[str, ...]] = {
    "es": ("manana", "mananas", "tarde", "tardes", "noche", "noches", "por la manana",
           "por la tarde", "por la noche"),
    "ca": ("mati", "matins", "tarda", "tardes", "nit"),
    "pt": ("manha", "manhas", "tarde", "tardes", "noite"),
    "en": ("morning", "mornings", "afternoon", "afternoons", "evening", "evenings"),
    "de": ("vormittags", "nachmittags", "abends", "vormittag", "nachmittag", "abend"),
    "fr": ("matin", "matins", "apres-midi", "soir", "le matin", "l'apres-midi"),
    "it": ("mattina", "mattino", "pomeriggio", "sera"),
    "nl": ("ochtend", "middag", "avond", "'s ochtends", "'s middags", "'s avonds"),
}  # fmt: skip

#: Parts of the day a weekday's closure can name ("chiuso lunedì pomeriggio", "fermé le
#: lundi matin", "lunes noche: cerrado"): the morning ("am"), the afternoon ("pm") or the
#: evening ("night").
_HALF_DAYS: dict[str, str] = {
    "manana": "am", "mananas": "am", "por la manana": "am", "tarde": "pm", "tardes": "pm",
    "por la tarde": "pm", "noche": "night", "noches": "night", "por la noche": "night",
    "mati": "am", "matins": "am", "tarda": "pm", "nit": "night",
    "manha": "am", "noite": "night",
    "morning": "am", "mornings": "am", "afternoon": "pm", "afternoons": "pm",
    "evening": "night", "evenings": "night",
    "vormittags": "am", "vormittag": "am", "nachmittags": "pm", "nachmittag": "pm",
    "abends": "night", "abend": "night",
    "matin": "am", "le matin": "am", "apres-midi": "pm", "l'apres-midi": "pm",
    "soir": "night",
    "mattina": "am", "mattino": "am", "pomeriggio": "pm", "sera": "night",
    "ochtend": "am", "'s ochtends": "am", "middag": "pm", "'s middags": "pm",
    "avond": "night", "'s avonds": "night",
}  # fmt: skip
#: Per part of the day: (the hour its ranges start from, or before which the morning's
#: start; the hour by which a range that starts before it must end, else it runs into it).
_HALF_BOUNDS = {"am": (12, 14), "pm": (12, 14), "night": (18, 20)}

#: Per language: "all day" (times 00:00-24:00) and "midnight" (24:00).
_ALL_DAY = {
    "es": ("todo el dia",), "ca": ("tot el dia",), "pt": ("todo o dia",),
    "en": ("all day", "24 hours a day", "24 hours per day", "24-hours a day", "24 hours",
           "24/7"),
    "de": ("ganztags", "ganztagig"), "fr": ("toute la journee",),
    "it": ("tutto il giorno", "a qualsiasi ora", "a qualunque ora", "24 ore su 24",
           "sempre aperto", "sempre aperta", "sempre visitabile", "sempre accessibile"),
    "nl": ("de hele dag", "hele dag", "altijd open", "altijd geopend"),
}  # fmt: skip
_MIDNIGHT = {
    "es": ("medianoche",), "ca": ("mitjanit",), "pt": ("meia-noite", "meia noite"),
    "en": ("midnight",), "de": ("mitternacht",), "fr": ("minuit",), "it": ("mezzanotte",),
    "nl": ("middernacht",),
}  # fmt: skip

#: Per language: days named for a date ("Heiligabend" is 24 December), as (day, month)
#: pairs; the reader reads them as that date.
_NAMED_DATES: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {
    "es": {"nochebuena": ((24, 12),), "nochevieja": ((31, 12),)},
    "ca": {"sant esteve": ((26, 12),), "cap d'any": ((1, 1),)},
    "pt": {"vespera de natal": ((24, 12),), "dia de natal": ((25, 12),)},
    "en": {"christmas eve": ((24, 12),), "christmas day": ((25, 12),), "boxing day": ((26, 12),),
           "new year's eve": ((31, 12),), "new year's day": ((1, 1),)},
    "de": {"heiligabend": ((24, 12),), "heilig abend": ((24, 12),), "silvester": ((31, 12),),
           "neujahr": ((1, 1),), "1. weihnachtsfeiertag": ((25, 12),),
           "2. weihnachtsfeiertag": ((26, 12),), "1./2. weihnachtsfeiertag": ((25, 12), (26, 12)),
           "1. und 2. weihnachtsfeiertag": ((25, 12), (26, 12)),
           "weihnachtsfeiertage": ((25, 12), (26, 12))},
    "fr": {"jour de noel": ((25, 12),), "jour de l'an": ((1, 1),)},
    "it": {"vigilia di natale": ((24, 12),), "santo stefano": ((26, 12),), "capodanno": ((1, 1),)},
    "nl": {"kerstavond": ((24, 12),), "eerste kerstdag": ((25, 12),),
           "tweede kerstdag": ((26, 12),), "oudejaarsavond": ((31, 12),),
           "nieuwjaarsdag": ((1, 1),)},
}  # fmt: skip

#: Per language: ordinals before a weekday and its month ("l'ultima domenica di ottobre",
#: "the last Sunday of October"): that weekday of the month, OSM's ``Oct Su[-1]``.
_NTH: dict[str, dict[str, int]] = {
    "es": {"primer": 1, "primero": 1, "primera": 1, "segundo": 2, "segunda": 2,
           "tercer": 3, "tercero": 3, "tercera": 3, "cuarto": 4, "cuarta": 4,
           "ultimo": -1, "ultima": -1},
    "ca": {"primer": 1, "primera": 1, "segon": 2, "segona": 2, "tercer": 3, "tercera": 3,
           "quart": 4, "quarta": 4, "darrer": -1, "darrera": -1, "ultim": -1, "ultima": -1},
    "pt": {"primeiro": 1, "primeira": 1, "segundo": 2, "segunda": 2, "terceiro": 3,
           "terceira": 3, "quarto": 4, "quarta": 4, "ultimo": -1, "ultima": -1},
    "en": {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1},
    "de": {"ersten": 1, "erster": 1, "erste": 1, "zweiten": 2, "zweiter": 2, "zweite": 2,
           "dritten": 3, "dritter": 3, "dritte": 3, "vierten": 4, "vierter": 4, "vierte": 4,
           "letzten": -1, "letzter": -1, "letzte": -1},
    "fr": {"premier": 1, "premiere": 1, "deuxieme": 2, "second": 2, "seconde": 2,
           "troisieme": 3, "quatrieme": 4, "dernier": -1, "derniere": -1},
    "it": {"primo": 1, "prima": 1, "secondo": 2, "seconda": 2, "terzo": 3, "terza": 3,
           "quarto": 4, "quarta": 4, "ultimo": -1, "ultima": -1},
    "nl": {"eerste": 1, "tweede": 2, "derde": 3, "vierde": 4, "laatste": -1},
}  # fmt: skip
#: Words between such a weekday and its month that are no noise of their language.
_NTH_OF = {"of", "im", "in"}

#: A date in figures: "24.12.", "26.12.2025", "24.12.24" (day, month, year).
_NUMERIC_DATE = re.compile(r"(?<![\d.:])(\d{1,2})\.\s?(\d{1,2})\.(\d{4}|\d{2}(?![\d:.]))?")

#: Prefixes that are ordinary words too, so never read as a weekday or month.
_NOT_PREFIXES = {"mit", "son", "mar", "ma", "do", "jun", "jul", "so", "sa", "di", "mi"}

#: Per language: rewrites of the folded text before it is read, for shapes of sentence
#: the vocabulary cannot hold: the subject of "<the place> is open ..." (English prose
#: names the place before its hours), and the labelled notes of a field that runs
#: several labels together ("Orario: ... Aperture straordinarie: 2 Giugno Tipo ingresso:
#: A pagamento"): a note runs to the next label or the end.
_REWRITES: dict[str, tuple[tuple[str, str, int], ...]] = {
    "es": (
        # a year before closed dates, with the place as subject: "Durante 2018 el Museo
        # ABC permanecerá cerrado los días: 1 y 6 de enero ... 31 de diciembre" says what
        # "Cerrado los días: 1 y 6 de enero ... 31 de diciembre de 2018" says (a year after
        # the list is the list's); only dates follow, no times
        (r"\bdurante (\d{4}),? [^.:\d]*?\bpermanecera (cerrad[oa]s?)\b(?: los dias)?:?"
         r"(?![^.]*(?:\d\s*[:h]|\bhoras?\b))([^.]*)", r". \2 los dias \3 de \1 ", 0),
    ),
    "en": (
        (r"\b(?:always open|open always|never closed)\b", "open 24 hours a day", 0),
        (r"\bduring daylight hours\b", "from sunrise to sunset", 0),
        # the hours in force: "Apollo District is currently open winter hours, 6:00 AM - ..."
        (r"\bcurrently open (?:summer|winter|spring|fall|autumn) hours\b", "open", 0),
        (r"\bbetween ([\d:.]+ ?(?:am|pm|a\.m\.|p\.m\.)?) and\b", r"from \1 to", 0),
        # the first subject only: a later one names a part ("Our parking lots are open")
        (r"(^|[.!?] )[^.!?\d]*?\b(?:(?:is|are) (?:generally |currently |usually )?)?open\b",
         r"\1open", 1),
    ),
    "it": (
        # a phone number, its dots between figures only: "numero 0172.412010."
        (r"\b(?:tel|telefono|numero|fax|cell)\.?\s*:?\s*\d(?:[\d/ -]|\.(?=\d)){5,}", " ", 0),
        # the subject of "<the place> e aperto ...", "il museo e sempre visitabile"
        (r"\b(?:(?:il|lo|la|l') ?)?(?:museo|ecomuseo|parco|giardino|castello|chiesa|sito|"
         r"complesso|villa|palazzo|percorso)\b[^.!?:\d]*?(?:,|\be|\bsono|\bresta|\brimane) "
         r"(?=(?:sempre )?(?:aperto|aperta|aperti|visitabile|accessibile)\b)", "", 0),
        # a named period and its dates: "durante il periodo Ostensione 19 aprile/24 giugno"
        (r"\b(?:durante|nel) (?:il )?periodo(?: [a-z']+)? (\d{1,2} [a-z]+) ?/ ?(\d{1,2} [a-z]+)\b",
         r"dal \1 al \2", 0),
        # the size of a group: "per gruppi superiori alle 10 persone"
        (r"\b(?:superiori|oltre) (?:alle |a )?\d+ persone\b", " ", 0),
        # the dates of months just named: "Ottobre-marzo (dal 01/10 al 31/03):"
        (r"\(dal \d\d/\d\d al \d\d/\d\d\)", " ", 0),
        # "L'Ecomuseo e attualmente chiuso (per lavori).": closed for now, which states no
        # weekly hours; the sentence goes, the hours of the rest of the text stay
        (r"(^|[.!?:] )[^.!?:\d]*?\b(?:e|resta|rimane) (?:attualmente|temporaneamente) "
         r"chius[oa]\b[^.]*", r"\1", 0),
        # "La Pinacoteca restera chiusa dal ...": its closure
        (r"(^|[.!?:] )[^.!?:\d]*?\b(?:e|resta|restera|rimane|rimarra) (chius[oa])\b",
         r"\1\2", 0),
        # a change in force until a past date, with no start: "Fino al 29/09/2016 il
        # giovedi orario prolungato fino alle 22.00." (a closure until then stays)
        (r"(^|[.!?:] )fino al \d{1,2}/\d{1,2}/\d{4}\b(?!(?:[^.]|\.\d)*\bchius).*?(?=\. |\.$|$)",
         r"\1", 0),
        # another body's office named for information, with its own hours: "Per
        # informazioni Associazione ... orari: lunedi-venerdi 9.00-13.00": to the next label
        (r"\bper (?:maggiori )?informazioni\b[^:]*?\borari\s*:.*?"
         r"(?=\b(?:aperture straordinarie|aperture serali|tipo ingresso|chiusure festivita"
         r" annuali)\s*:|$)", " . ", 0),
        (r"\b(?:aperture straordinarie|aperture serali|tipo ingresso)\s*:.*?"
         r"(?=\b(?:aperture straordinarie|aperture serali|tipo ingresso|chiusure festivita"
         r" annuali)\s*:|$)", " . ", 0),
    ),
}  # fmt: skip

#: Per language: names of the sun's rise and set ("dawn to dusk", "30 minutes after
#: sunset"), read as OSM's ``sunrise`` and ``sunset``.
_SUN: dict[str, dict[str, str]] = {
    "en": {
        "sunrise": "sunrise", "dawn": "sunrise", "sunset": "sunset", "dusk": "sunset",
        "30 minutes after sunset": "(sunset+00:30)", "30 minutes before sunrise":
        "(sunrise-00:30)", "1/2 hour after sunset": "(sunset+00:30)",
        "a 1/2 hour after sunset": "(sunset+00:30)", "1/2 hour before sunrise":
        "(sunrise-00:30)", "a 1/2 hour before sunrise": "(sunrise-00:30)",
    },
}  # fmt: skip
_SUN_TIME = re.compile(r"^\(?(sunrise|sunset)(?:([+-])(\d\d):(\d\d)\))?$")


def _sun_minutes(value: str) -> int | None:
    """Minutes of the day of a solar time ("sunrise", "(sunset+00:30)"), taking the sun
    to rise at 6 and set at 18: for comparing spans only."""
    found = _SUN_TIME.match(value)
    if not found:
        return None
    base = 6 * 60 if found[1] == "sunrise" else 18 * 60
    offset = int(found[3] or 0) * 60 + int(found[4] or 0)
    return base - offset if found[2] == "-" else base + offset


_TOKEN = re.compile(
    r"(?P<time>\d{1,2}\s*[:.h']\s*\d{2}(?!\d)\s*(?:am|pm|a\.m\.|p\.m\.)?|\d{1,2},\d{2}(?!\d|,\d)"
    r"|\d{1,2}[.:]0(?=\s*[-/,]\s*\d)"  # a zero left out: "10.00-13.0 / 16.00"
    r"|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)(?![a-z])|\d{1,2}h(?![a-z]))"
    r"|(?P<num>\d{1,4})(?:er|re|eme|e|st|nd|rd|th|º|ª|°|o)?(?!\d)"
    r"|(?P<word>[^\W\d_]+(?:'|-[^\W\d_]+)*'?)"
    r"|(?P<punct>[-,/&:;.()])"
)
_TIME = re.compile(r"^(\d{1,2})(?:[:.h',](\d{2}|0))?h?(am|pm|a\.m\.|p\.m\.)?$")


def _fold(text: str) -> str:
    """Lower case without accents, dashes as ``-``: "Sábado" → "sabado"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    for dash in ("\u2013", "\u2014", "\u2012", "\u2212"):
        folded = folded.replace(dash, "-")
    folded = folded.replace("\u00df", "ss")
    folded = folded.replace("\u200b", "").replace("\u00a0", " ")
    return folded.replace("\u2019", "'").replace("t/m", " tm ")


@cache
def _names(language: str, kind: str) -> dict[str, int]:
    """Weekday (``kind="days"``) or month names of ``language``: CLDR's wide,
    abbreviated and short forms, plurals, and prefixes of three letters or more that
    belong to one name only ("vier" for "viernes", "sept" for "septiembre")."""
    locale = Locale.parse(language)
    table = locale.days if kind == "days" else locale.months
    widths = ("wide", "abbreviated", "short") if kind == "days" else ("wide", "abbreviated")
    names: dict[str, int] = {}
    wide: dict[str, int] = {}
    for width in widths:
        for context in ("format", "stand-alone"):
            for index, name in table[context][width].items():
                key = _fold(name).rstrip(".").removeprefix("de ")
                if kind == "months":
                    index -= 1
                forms = {key, key.split("-")[0]}  # "segunda-feira": "segunda" too
                for form in forms:
                    if len(form) >= 3 or (len(form) == 2 and language in ("de", "nl")):
                        names[form] = index  # "Mo", "Di" in German, "ma", "di" in Dutch
                    if len(form) >= 3:
                        names[form + "s"] = index  # "domingos", "lundis"
                if width == "wide":
                    wide[key] = index
    prefixes: dict[str, set[int]] = {}
    for name, index in wide.items():
        for end in range(3, len(name)):
            prefixes.setdefault(name[:end], set()).add(index)
    for prefix, found in prefixes.items():
        if len(found) == 1 and prefix not in names and prefix not in _NOT_PREFIXES:
            names[prefix] = next(iter(found))
    return names


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one letter left out, added or changed."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:n] + long[n + 1 :] == short for n in range(len(long)))


@cache
def _wide_names(language: str, kind: str) -> dict[str, int]:
    """Wide weekday (``kind="days"``) or month names of ``language`` and their plurals
    ("domingo", "domingos")."""
    locale = Locale.parse(language)
    table = locale.days if kind == "days" else locale.months
    found: dict[str, int] = {}
    for context in ("format", "stand-alone"):
        for index, name in table[context]["wide"].items():
            key = _fold(name).removeprefix("de ")
            found[key] = found[key + "s"] = index if kind == "days" else index - 1
    return found


def _misspelt_day(language: str, word: str) -> int | None:
    """The weekday a word of six letters or more names with one letter wrong ("domigos"
    for "domingos"), when it is one weekday only; else None."""
    if len(word) < 6:
        return None
    names = _wide_names(language, "days")
    found = {index for name, index in names.items() if _one_edit(word, name)}
    return found.pop() if len(found) == 1 else None


@dataclass
class _Rule:
    season: str = ""
    days: str = ""
    times: str = ""
    implicit: bool = False  # no day was named: every day
    block: bool = False  # the season came before its days: its own week ("Agosto: Lun-sáb")

    def osm(self) -> str:
        return " ".join(part for part in (self.season, self.days, self.times) if part)


@dataclass
class _Days:
    days: list[int] = field(default_factory=list)
    holiday: bool = False

    def osm(self) -> str:
        """``Mo-Fr``, ``Sa,Su,PH``, ``PH``."""
        parts = [osm_days(self.days)] if self.days else []
        return ",".join([*parts, "PH"] if self.holiday else parts)


Token = tuple[str, Any]
#: A date: (day of the month or a weekday of it such as ``"Su[-1]"``, month index, year).
_Date = tuple[int | str, int, int | None]
_DAY_KINDS = ("day", "every", "holiday", "weekend", "weekdays")
#: Kinds of token that say something about when a place is open.
_SCHEDULE = {
    "day", "month", "daymonth", "num", "year", "time", "closed", "except", "holiday",
    "every", "weekend", "weekdays", "allday", "nthday",
}  # fmt: skip


@cache
def _phrases(language: str) -> dict[str, list[tuple[list[str], str]]]:
    """The language's vocabulary as (words, kind) phrases by their first word, the longest
    first: built once a process, not for each text."""
    words = {
        **_WORDS[language],
        "remark": _REMARKS[language],
        "season_word": _SEASON_WORDS[language],
        "allday": _ALL_DAY[language],
        "daypart": _DAY_PARTS[language],
        "appointment": _APPOINTMENT[language],
        "midnight": _MIDNIGHT[language],
        "meal": _MEALS[language],
        "undated": _UNDATED[language],
        "sun": tuple(_SUN.get(language, {})),
    }
    ordered = sorted(
        (
            ([m.group(0).replace(" ", "") for m in _TOKEN.finditer(phrase)], kind)
            for kind, group in words.items()
            for phrase in group
        ),
        key=lambda item: -len(item[0]),
    )
    by_first: dict[str, list[tuple[list[str], str]]] = {}
    for parts, kind in ordered:
        if parts:
            by_first.setdefault(parts[0], []).append((parts, kind))
    return by_first


@cache
def _sun_names(language: str) -> dict[str, str]:
    """The language's names of sunrise and sunset, as tokens joined, to OSM's."""
    return {
        "".join(m.group(0).replace(" ", "") for m in _TOKEN.finditer(name)): value
        for name, value in _SUN.get(language, {}).items()
    }


class _Reader:
    """Reads one text in one language; methods return None when they cannot."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.days = _names(language, "days")
        self.months = _names(language, "months")
        self.phrases = _phrases(language)
        self.sun = _sun_names(language)

    # ---------------------------------------------------------------- tokens

    def known(self, word: str) -> bool:
        """Whether a hyphenated word is a name or a vocabulary word as it is."""
        return word in self.days or word in self.months or word in self.phrases

    def spell_dates(self, folded: str) -> str:
        """Dates in figures and named days written as a day and a month name:
        "24.-26.12.2025" → "24.-26 dezember 2025", "Heiligabend" → "24 dezember"."""
        month = {index: name for name, index in _wide_names(self.language, "months").items()}

        def spelled(match: re.Match[str]) -> str:
            day, number, year = int(match[1]), int(match[2]), match[3]
            if not (1 <= day <= 31 and 1 <= number <= 12):
                return match[0]
            if year and len(year) == 2:
                year = f"20{year}"
            return f" {day} {month[number - 1]} {year or ''} "

        folded = _NUMERIC_DATE.sub(spelled, folded)
        for name, dates in sorted(
            _NAMED_DATES[self.language].items(), key=lambda item: -len(item[0])
        ):
            words = " / ".join(f"{day} {month[number - 1]}" for day, number in dates)
            folded = re.sub(rf"(?<![\w]){re.escape(name)}(?![\w])", f" {words} ", folded)
        return folded

    def tokens(self, text: str, rewrite: bool = True) -> list[Token]:
        """(kind, value) tokens of ``text``; words the reader does not know are
        ``unknown``. ``rewrite``: apply the language's rewrites (:data:`_REWRITES`) first."""
        raw: list[tuple[str, str]] = []
        folded = re.sub(r"(?<=[a-z])- (?=(?:en|und|et|e|i|y) )", " ", _fold(text))  # "zon- en"
        folded = re.sub(r"(?<=\d) ?h\.(?= ?(?:a|al|i|y|e|-) )", " h ", folded)  # "16 h. a 20 h."
        for pattern, replacement, count in _REWRITES.get(self.language, ()) if rewrite else ():
            folded = re.sub(pattern, replacement, folded, count=count)
        for match in _TOKEN.finditer(self.spell_dates(folded)):
            kind, word = match.lastgroup or "punct", match.group(0).replace(" ", "")
            if kind == "word" and "-" in word and not self.known(word):
                for n, part in enumerate(word.split("-")):
                    raw.extend([("punct", "-")] * bool(n) + [("word", part)])
            else:
                raw.append((kind, word))
        out: list[Token] = []
        i = 0
        while i < len(raw):
            kind, word = raw[i]
            for parts, phrase_kind in self.phrases.get(word, ()):
                if [w for _, w in raw[i : i + len(parts)]] == parts:
                    if phrase_kind == "midnight":
                        out.append(("time", "24:00"))
                    elif phrase_kind == "sun":
                        out.append(("time", self.sun["".join(parts)]))
                    elif phrase_kind != "noise":
                        out.append((phrase_kind, " ".join(parts)))
                    i += len(parts)
                    break
            else:
                out.append(self.token(kind, word, out, raw[i - 1][1] if i else ""))
                i += 1
        return self.settle(self.nth_days([t for t in out if t[0] != "skip"]))

    def unknown_words(self, text: str) -> int:
        """How many words of ``text`` this language's reader does not know, before its
        rewrites (which take out words they cannot place: "Altijd open" is no English)."""
        return sum(kind == "unknown" for kind, _ in self.tokens(text, rewrite=False))

    def nth_days(self, tokens: list[Token]) -> list[Token]:
        """An ordinal, a weekday and a month ("ultima domenica di ottobre") as one token:
        ``("nthday", (month, weekday, n))``, which reads as OSM's ``Oct Su[-1]``."""
        out = list(tokens)
        nth = _NTH[self.language]
        i = 0
        while i + 2 < len(out):
            kinds = [k for k, _ in out[i : i + 4]]
            word = out[i][1] if kinds[0] == "unknown" else None
            of = kinds[2:3] == ["unknown"] and out[i + 2][1] in _NTH_OF
            month = i + 2 + of
            if (
                word in nth
                and kinds[1] in ("day", "daymonth")
                and month < len(out)
                and out[month][0] in ("month", "daymonth")
            ):
                day = out[i + 1][1] if kinds[1] == "day" else out[i + 1][1][0]
                number = out[month][1] if out[month][0] == "month" else out[month][1][1]
                out[i : month + 1] = [("nthday", (int(number), int(day), nth[str(word)]))]
            i += 1
        return out

    def token(self, kind: str, word: str, out: list[Token], before: str) -> Token:
        """The token of one word or sign that is no phrase of the vocabulary."""
        if kind == "time":
            return "time", word
        if kind == "num":
            value = int(re.sub(r"\D", "", word))
            if 31 < value < 1900:  # no day, hour or year: "914 299 216", "45 minutos"
                return "unknown", word
            return ("year" if value >= 1900 else "num"), value
        if word == ";":
            return "stop", word
        if word in "()":
            return "paren", word
        if word == ":":
            return "colon", word
        if word == ".":
            if (
                out
                and out[-1][0] in ("day", "month", "daymonth")
                and len(before) <= 5
                and before not in _wide_names(self.language, "days")
                and before not in _wide_names(self.language, "months")
            ):
                return "skip", word  # "Lun." "sept.", not "1 de mayo."
            if self.language == "de" and out and out[-1][0] == "num":
                return "skip", word  # "am 24. und 25. Dezember"
            return "stop", word
        day, month = self.days.get(word), self.months.get(word)
        if day is None and month is None and before in ("h", "") and word[:1] == "h":
            day = self.days.get(word[1:])  # "09:00 - 01:00 hDomingo": "h" and a weekday
        if day is None and month is None:
            day, month = self.glued_name(word)
        if day is None and month is None:
            day = _misspelt_day(self.language, word)
        if day is not None and month is not None:
            return "daymonth", (day, month)
        if day is not None:
            return "day", day
        if month is not None:
            return "month", month
        return "unknown", word

    def glued_name(self, word: str) -> tuple[int | None, int | None]:
        """(weekday, month) of a wide weekday or month name run together with a short
        word the language leaves out ("dimanchede 14h" for "dimanche de 14h", "juillet-
        aoûtdu mercredi" for "août du"), where a space was lost when lines were joined;
        (None, None) when the word is no such pair. The short word carries no meaning,
        so the name alone is the token."""
        for noise in _WORDS[self.language]["noise"]:
            if " " in noise or len(noise) > 3 or not word.endswith(noise):
                continue
            stem = word[: -len(noise)]
            day = _wide_names(self.language, "days").get(stem)
            month = _wide_names(self.language, "months").get(stem)
            if day is not None or month is not None:
                return day, month
        return None, None

    @staticmethod
    def trim(tokens: list[Token]) -> tuple[list[Token], bool] | None:
        """The tokens without what is not the hours, and whether something was left out;
        None when a word the reader does not know may change what the hours mean.

        Left out: a remark from its opening words to the end of its sentence ("Último
        pase a las 17 horas", "Visitas guiadas: ..."); a season's name before its months
        ("Verano (julio y agosto)"); a label before the first hours ("Biblioteca:");
        sentences of unknown words before or after all the hours ("Según el tour.",
        "Consultar web oficial"); unknown words after the last time of the hours.
        Unknown words anywhere else, or a left-out sentence that names a season, keep
        the text from being read.
        """
        out = list(tokens)
        dropped = False
        boundary = ("stop", "paren")
        # remarks run to the end of their sentence (before any hours they are words)
        # "by appointment" after the hours is a remark too, and so are the days it is for
        # ("Sábados: visita con cita previa", "Domingos y festivos consultar")
        first_mark = next((n for n, (k, _) in enumerate(out) if k in _SCHEDULE), len(out))
        # meals: labels of the hours when the text opens with one, else parts of them
        meals_lead = any(k == "meal" for k, _ in out[:first_mark])
        out = [("skip" if meals_lead else "remark", v) if k == "meal" else (k, v) for k, v in out]
        out = [
            ("unknown", v) if k == "remark" and n < first_mark
            else ("by_appointment", v) if k == "appointment" and n > first_mark
            else (k, v)
            for n, (k, v) in enumerate(out)
        ]  # fmt: skip
        out = _audience_halves(out)
        i = 0
        while i < len(out):
            if out[i][0] == "by_appointment" and _opens_bracket(out, i):
                return None  # "11:00 - 14:00 h (previa cita)", "(es preciso cita previa)"
            if (out[i][1] in _AUDIENCES or out[i][0] == "by_appointment") and out[i - 1][0] in (
                "time",
                "num",
            ):  # "16:00 - 19:00 h Por cita previa"
                return None  # "de 9h à 12h et de 14h à 17h30 pour les scolaires": whose hours?
            if out[i][0] == "by_appointment":
                k = i + 1  # what it is for: "su prenotazione: 9.00-12.00", "su prenotazione
                while k < len(out) and (
                    out[k][0] in ("colon", "unknown", "remark")
                    or (out[k][0] == "list" and out[k][1] != ",")
                ):
                    k += 1  # per gruppi e scuole aprile-giugno" (not "sur rendez-vous les
                between = {v for _, v in out[i + 1 : k]}  # autres jours et de juin à août")
                season = bool(
                    k < len(out) and out[k][0] in ("month", "num") and between & _AUDIENCES
                )
                end = k
                while season and end < len(out) and out[end][0] in ("month", "range", "num"):
                    end += 1
                if (
                    season
                    and out[end : end + 1] == [("list", ",")]
                    and out[end + 1 : end + 2]
                    and out[end + 1][0] in ("month", *_DAY_KINDS)
                ):  # its season between commas is its own: "Chiuso novembre-marzo, su
                    start = i  # prenotazione per gruppi e scuole aprile-giugno, luglio-
                    if out[start - 1 : start] == [("list", ",")]:  # settembre: ..."
                        start -= 1
                    out[start : end + 1] = [("stop", ",")]
                    i, dropped = start + 1, True
                    continue
                if k < len(out) and ((out[k][0] == "time" and not between - {":"}) or season):
                    return None  # its hours or its season: the text's are not settled
            if out[i][0] in ("remark", "by_appointment"):
                section = out[i][1] in _SECTIONS or out[i][1] in _MEAL_WORDS
                j = i + 1  # a remark runs to the end of its sentence, "by appointment" to
                ends = boundary if out[i][0] == "remark" else (*boundary, *_SCHEDULE)
                if (
                    out[i][1] in _AUDIENCES
                    and out[i + 1 : i + 2]
                    and (out[i + 1][0] == "by_appointment")
                ):  # "lunedì-venerdì per gruppi su appuntamento, domenica ...": to the days
                    ends = (*boundary, *_DAY_KINDS)
                # a part of the place runs over brackets: "Misas: Invierno (...)"; one that
                # opens a bracket ends with it: "Sábados: 10:00 - 21:00 h (visitas guiadas
                # a las 17:00 h) Domingos: ..." (the Sundays are the place's)
                if section and not _opens_bracket(out, i):
                    ends = ("stop",)
                labelled = section and _labels_part(out, i, first_mark)
                if labelled:  # "... Bar Saddle: Lun - Sab: ... Domingos: cerrado": a second
                    ends = ()  # labelled part runs to the end, its closed days its own
                while j < len(out) and out[j][0] not in ends:  # the next hours
                    if (
                        out[j][0] == "season_word"
                        and any(k == "month" for k, _ in out[j + 1 : j + 5])
                        and any(k == "time" for k, _ in out[i:j])
                        and not any(k == "season_word" for k, _ in out[i:j])
                    ):  # "Visitas guiadas: sábados: 10:30h Horario invierno (oct - jun): ..."
                        break  # (not "Misas: Invierno (16 sept/30 jun): ... Verano (...)")
                    if (
                        not section
                        and out[j][0] == "list"
                        and out[j + 1 : j + 2]
                        and out[j + 1][0] in (*_DAY_KINDS, "month", "daymonth", "num")
                        and any(k in ("time", "num") for k, _ in out[i:j])
                    ):
                        break  # "visites guidées à 14h, 15h et 16h, le dimanche de ..."
                    if (
                        not section
                        and out[j][0] in (*_DAY_KINDS, "closed")
                        and out[j - 1][0] in ("time", "num")
                        and (out[j][0] == "closed" or _hours_follow(out, j))
                    ):  # "Misa: 19:00 h Dom y fest: 9:00 - 14:00 h", "Ultimo ingresso ore
                        break  # 17.00 Chiuso dal 8 al 21 agosto" (not "17.15 domenica, ora")
                    j += 1
                if out[i][0] == "remark" and out[j : j + 1] == [("paren", "(")]:
                    close = next((n for n in range(j, len(out)) if out[n] == ("paren", ")")), j)
                    j = close + 1 if close > j else j  # its bracket is its own: "con visite
                start = i  # guidate (partenza ogni ora)"
                asks = out[i][0] == "by_appointment" or out[i][1] in (
                    "consultar", "consulte", *_AUDIENCES,
                )  # fmt: skip
                while asks and start > first_mark and out[start - 1][0] in (
                    "day", "holiday", "weekend", "weekdays", "list", "colon", "unknown", "range",
                ):  # fmt: skip
                    start -= 1
                if not any(k in ("day", "holiday", "weekdays") for k, _ in out[start:i]):
                    start = i  # the words before it say what it is for: "in altri giorni ed
                    while (
                        asks
                        and start > first_mark
                        and (  # orari apertura su richiesta"
                            out[start - 1][0] == "unknown"
                            or (out[start - 1][0] == "list" and out[start - 1][1] != ",")
                        )
                    ):
                        start -= 1
                with_ = next(
                    (n for n in (i - 1, i - 2) if n > first_mark and out[n][1] in _WITH), None
                )  # "15.00-18.00 con servizio di visita guidata": "with" opens the remark
                if (
                    start == i
                    and with_ is not None
                    and all(k == "unknown" for k, _ in out[with_:i])
                ):
                    start = with_
                if start == i and i > first_mark + 1 and out[i - 1][0] == "colon":
                    while out[start - 1][0] in ("colon", "unknown"):  # its label:
                        start -= 1  # "Visitas Viaje de agua: consultar en el centro"
                colon = next(
                    (
                        n
                        for n in (start - 1, start)
                        if n >= 0 and out[n : n + 1] == [("colon", ":")]
                    ),
                    None,
                )
                if asks and colon is not None:  # a season whose part is by appointment only
                    k = colon  # goes with it: "novembre-maggio: lunedì-domenica su
                    while k > 0 and out[k - 1][0] in ("month", "range", "num"):  # prenotazione,
                        k -= 1  # giugno-ottobre ..."
                    if (
                        k < colon
                        and (k == 0 or out[k - 1][0] in (*boundary, "list", "colon"))
                        and not (j < len(out) and out[j][0] in _DAY_KINDS)
                    ):  # (not when its other days follow: "..., domenica 10.00-13.00")
                        start = min(start, k)
                closes = [n for n in range(i, j) if out[n][0] in ("closed", "except")]
                if (
                    closes
                    and not labelled
                    and not (section and any(k == "time" for k, _ in out[i : closes[0]]))
                ):  # "La biblioteca permanece cerrada por obras": it matters (not after
                    return None  # the part's own hours: "Orario della biblioteca: ... chiusa")
                del out[start:j]
                i = start
                dropped = True
            else:
                i += 1
        # the name of a date in brackets after it says nothing more: "10 de diciembre
        # (Patrona de Aviación), 24, 25 y 31 de diciembre", "Am 24.11. (Totensonntag)"
        i = 2
        while i < len(out):
            end = next((n for n in range(i + 1, len(out)) if out[n][0] != "unknown"), len(out))
            if (
                out[i] == ("paren", "(")
                and [k for k, _ in out[i - 2 : i]] in (["num", "month"], ["month", "year"])
                and 0 < end - i - 1 <= 4
                and out[end : end + 1] == [("paren", ")")]
            ):
                del out[i : end + 1]
                dropped = True
            i += 1
        # a season in brackets right after hours ("17:00-20:45 h (julio y agosto: 18:00 -
        # 20:45 h)"): for those hours or all of them? Not guessed.
        for i in range(1, len(out) - 1):
            if (
                out[i] == ("paren", "(")
                and out[i - 1][0] in ("time", "num")
                and out[i + 1][0] in ("month", "daymonth", "num", "season_word")
                and not (  # "16.00-19.00 (orario estivo) da giugno a settembre:": the
                    out[i + 1][0] == "season_word"  # name heads the months after it
                    and out[i + 2 : i + 3] == [("paren", ")")]
                    and [k for k, _ in out[i + 3 : i + 4]] in (["month"], ["num"])
                )
            ):
                return None
        out = _half_closures(out)
        # a part of the day before times says nothing more ("mañanas de 10 a 14 horas");
        # anywhere else ("domingo tarde: cerrado") it is a word the reader does not know
        for i, (kind, value) in enumerate(out):
            if kind == "daypart":
                ahead = [k for k, _ in out[i + 1 : i + 3] if k != "colon"][:1]
                out[i] = ("skip" if ahead in (["time"], ["num"]) else "unknown", value)
        # a season's name is a heading when its months or dates follow
        for i, (kind, value) in enumerate(out):
            if kind != "season_word":
                continue
            j = i + 1
            while j < len(out) and out[j][0] in (
                "list", "range", "colon", "paren", "season_word", "heading", "in",
            ):  # fmt: skip
                j += 1
            ahead = [k for k, _ in out[j : j + 4]]
            heading = bool(ahead) and (
                ahead[0] in ("month", "daymonth") or (ahead[0] == "num" and "month" in ahead)
            )
            out[i] = ("heading", value) if heading else ("season_name", value)
            if heading:  # "Primavera - Verano (Abril - septiembre)": one heading
                for n in range(i + 1, j):
                    if out[n][0] in ("list", "range", "season_word", "heading"):
                        out[n] = ("skip", out[n][1])
        out = [t for t in out if t[0] != "skip"]
        hours = [i for i, (kind, _) in enumerate(out) if kind in _SCHEDULE]
        if not hours:
            return None
        first = hours[0]
        # a label right before the first hours: "Exposiciones: Lun - vier"
        colon = max((i for i in range(first) if out[i][0] == "colon"), default=-1)
        label = [i for i in range(colon) if out[i][0] == "unknown"]
        if label and not any(k in boundary for k, _ in out[label[-1] : colon]):
            if any(k == "appointment" for k, _ in out[: colon + 1]):
                return None  # "Sólo visitas de grupo con cita previa: de lunes a viernes"
            del out[label[0] : colon + 1]
            return _trim_sentences(_without_other_parts(out), True)
        parts = _without_other_parts(out)
        return _trim_sentences(parts, dropped or len(parts) < len(out))

    @staticmethod
    def settle(tokens: list[Token]) -> list[Token]:
        """A name that is a weekday and a month ("mar"): a month beside a month or a
        number, else a weekday."""
        out = list(tokens)
        for i, (kind, value) in enumerate(out):
            if kind != "daymonth":
                continue
            day, month = value
            near = [out[j][0] for j in (i - 2, i - 1, i + 1, i + 2) if 0 <= j < len(out)]
            out[i] = ("month", month) if {"month", "num"} & set(near) else ("day", day)
        return out

    # ---------------------------------------------------------------- items

    def items(self, tokens: list[Token]) -> list[Token] | None:
        """Seasons, dates, day sets, time ranges and markers, or None."""
        items: list[Token] = []
        tokens = _weekdays_of_dates(tokens)
        i = 0
        while i < len(tokens):
            kind = tokens[i][0]
            if kind == "half":  # "chiuso lunedì pomeriggio"
                items.append(tokens[i])
                i += 1
                continue
            if kind in ("stop", "closed", "except", "in", "heading", "amend", "undated"):
                items.append((kind, None))
                i += 1
                continue
            edges = ("stop", "paren", "colon")
            before = ("stop", "paren", "colon", "closed", "except")  # "Encerrado a 1 de janeiro"
            if kind in ("list", "colon", "paren") or (
                kind == "range"
                and (
                    i == 0
                    or i + 1 == len(tokens)
                    or tokens[i - 1][0] in before
                    or tokens[i + 1][0] in edges
                )
            ):  # "- 24 diciembre", "de 14h à 18h - (ouvert le 14 juillet)"
                i += 1
                continue
            found = self.season(tokens, i) or self.dates(tokens, i)
            if found:
                items.append(found[0])
                i = found[1]
                continue
            days, j = self.day_set(tokens, i)
            if days is not None:
                if tokens[j - 1][0] == "holiday" and self.dates(tokens, j):
                    days.holiday = False  # "los festivos 1 y 6 de enero": those dates
                items.append(("days", days))
                i = j
                continue
            if kind == "allday":  # "todo el día"
                items.append(("times", ["00:00-24:00"]))
                i += 1
                continue
            times, j = self.time_ranges(tokens, i)
            if times is not None:
                items.append(("times", times))
                i = j
                continue
            return None
        return items

    def _date(self, tokens: list[Token], i: int) -> tuple[_Date | None, int]:
        """(day, month, year) at ``i``: ``1 enero``, ``1er janvier 2011``, ``Jan 1``; the
        month first in English only ("agosto de 10 a 15 horas" is no 10 August)."""
        if i < len(tokens) and tokens[i][0] == "nthday":  # "ultima domenica di ottobre"
            month, weekday, nth = tokens[i][1]
            return (f"{OSM_DAYS[weekday]}[{nth}]", month, None), i + 1
        if i + 1 < len(tokens) and tokens[i][0] == "num" and tokens[i + 1][0] == "month":
            day, month, j = int(tokens[i][1]), int(tokens[i + 1][1]), i + 2
        elif (
            self.language == "en"
            and i + 1 < len(tokens)
            and tokens[i][0] == "month"
            and tokens[i + 1][0] == "num"
        ):
            day, month, j = int(tokens[i + 1][1]), int(tokens[i][1]), i + 2
        else:
            return None, i
        if not 1 <= day <= 31:
            return None, i
        year = None
        if j < len(tokens) and tokens[j][0] == "year":
            year, j = int(tokens[j][1]), j + 1
        return (day, month, year), j

    @staticmethod
    def _osm_date(date: _Date) -> str:
        day, month, year = date
        text = f"{OSM_MONTHS[month]} {day if isinstance(day, str) else f'{day:02d}'}"
        return f"{year} {text}" if year else text

    def season(self, tokens: list[Token], i: int) -> tuple[Token, int] | None:
        """``1 abril - 15 junio``, ``15 - 30 septiembre``, ``abril - octubre``,
        ``juillet-août``, ``julio y agosto``."""
        start, j = self._date(tokens, i)
        if start and self._dash_list(tokens, i):
            return None  # "24 Dicembre - 25 Dicembre - 8 Dicembre": dates, not a season
        if start and j < len(tokens) and tokens[j][0] == "range":
            end, k = self._date(tokens, j + 1)
            if end:
                if end[2] and not start[2]:
                    start = (start[0], start[1], end[2] if start[1] <= end[1] else end[2] - 1)
                return ("season", f"{self._osm_date(start)}-{self._osm_date(end)}"), k
        if (
            i + 3 < len(tokens)
            and tokens[i][0] == "num"
            and tokens[i + 1][0] == "range"
            and tokens[i + 2][0] == "num"
            and tokens[i + 3][0] == "month"
            and [k for k, _ in tokens[i + 4 : i + 6]] != ["range", "month"]  # "10 a 18 De abril a"
        ):
            first, last = int(tokens[i][1]), int(tokens[i + 2][1])
            month = int(tokens[i + 3][1])
            k = i + 4
            year = None
            if k < len(tokens) and tokens[k][0] == "year":
                year, k = int(tokens[k][1]), k + 1
            if 1 <= first < last <= 31:
                begin = self._osm_date((first, month, year))
                return ("season", f"{begin}-{self._osm_date((last, month, year))}"), k
        if tokens[i][0] != "month" or start:
            return None
        dated = _months_of_years(tokens, i)
        if dated:
            return dated
        months = [int(tokens[i][1])]
        parts = [OSM_MONTHS[months[0]]]
        j = i + 1
        while (
            j + 1 < len(tokens)
            and tokens[j][0] in ("range", "list")
            and tokens[j + 1][0] == "month"
        ):
            month = int(tokens[j + 1][1])
            if tokens[j][0] == "range":
                parts[-1] = f"{parts[-1]}-{OSM_MONTHS[month]}"
            else:
                parts.append(OSM_MONTHS[month])
            j += 2
        return ("season", ",".join(parts)), j

    def _dash_list(self, tokens: list[Token], i: int) -> bool:
        """Whether three or more whole dates joined by dashes start at ``i``: a list."""
        count, j = 0, i
        while True:
            date, j = self._date(tokens, j)
            if not date:
                return False
            count += 1
            if j >= len(tokens) or tokens[j][0] != "range":
                return count >= 3
            j += 1

    def dates(self, tokens: list[Token], i: int) -> tuple[Token, int] | None:
        """Single dates: ``1 enero, 1 mayo y 25 diciembre``, ``1 y 6 de enero``."""
        dashes = self._dash_list(tokens, i)
        found: list[str] = []
        pending: list[int] = []
        j = end = i
        while j < len(tokens):
            kind, value = tokens[j]
            date, k = self._date(tokens, j)
            if date:
                for day in pending:
                    found.append(self._osm_date((day, date[1], date[2])))
                pending = []
                found.append(self._osm_date(date))
                j = end = k
            elif kind == "num" and 1 <= int(value) <= 31:
                pending.append(int(value))
                j += 1
            elif (kind == "list" or (kind == "range" and dashes)) and (found or pending):
                j += 1
            else:
                break
        j = end  # numbers after the last date are not dates of it: "y 14 a 31 agosto"
        if not found:
            return None
        if found[-1][:4].isdigit() and not found[0][:4].isdigit():  # "... 31 de diciembre de 2018"
            year = found[-1][:4]
            found = [f if f[:4].isdigit() else f"{year} {f}" for f in found]
        return ("dates", ",".join(found)), j

    def day_set(self, tokens: list[Token], i: int) -> tuple[_Days | None, int]:
        found = _Days()
        start = i
        while i < len(tokens):
            kind, value = tokens[i]
            if kind == "every":
                found.days.extend(range(7))
            elif kind == "weekend":
                found.days.extend((5, 6))
            elif kind == "weekdays":
                found.days.extend(range(5))
            elif kind == "holiday":
                found.holiday = True
            elif kind == "day":
                first = int(value)
                if (
                    i + 2 < len(tokens)
                    and tokens[i + 1][0] == "range"
                    and tokens[i + 2][0] == "day"
                ):
                    last = int(tokens[i + 2][1])
                    found.days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
                    i += 2
                else:
                    found.days.append(first)
            else:
                break
            i += 1
            j = i
            while j < len(tokens) and tokens[j][0] == "list":  # "du mardi, et du mercredi"
                j += 1
            if j > i and j < len(tokens) and tokens[j][0] in _DAY_KINDS:
                i = j
        if i == start:
            return None, start
        return found, i

    def time_ranges(self, tokens: list[Token], i: int) -> tuple[list[str] | None, int]:
        ranges: list[str] = []
        while (
            i + 2 < len(tokens)
            and tokens[i][0] in ("time", "num")
            and tokens[i + 1][0] == "range"
            and tokens[i + 2][0] in ("time", "num")
            and not (  # "1 - 30 sept" is a season; "de 10 a 18 De abril a septiembre" is not
                tokens[i + 2][0] == "num"
                and [k for k, _ in tokens[i + 3 : i + 6]][:1] == ["month"]
                and [k for k, _ in tokens[i + 4 : i + 6]] != ["range", "month"]
            )
        ):
            start, end = self.time(tokens[i][1]), self.time(tokens[i + 2][1], end=True)
            if start is None or end is None or start == end:
                return None, i
            if (
                self.language == "en"
                and end[:1].isdigit()
                and end < start < "12:00"
                and "m" not in f"{tokens[i][1]}{tokens[i + 2][1]}"
            ):  # "9:00 - 5:00": English hours on a 12-hour clock end in the afternoon
                end = f"{int(end[:2]) + 12:02d}{end[2:]}"
            if end == "00:00":
                end = "24:00"
            if tokens[i + 2][0] == "num" and (end < start or end > "24:00"):  # "de 14h à 1"
                return None, i
            ranges.append(f"{start}-{end}")
            i += 3
            if (
                i + 1 < len(tokens)
                and tokens[i][0] == "list"
                and tokens[i + 1][0] in ("time", "num")
            ):
                i += 1
        spans = _minutes(",".join(ranges)) if ranges else []
        if any(a < d and c < b for n, (a, b) in enumerate(spans) for c, d in spans[:n]):
            return None, i  # "de 14h à 18h, de 14h à 19h lors des expositions": which?
        return (ranges or None), i  # ranges may follow each other: "et de" is noise

    @staticmethod
    def time(value: object, end: bool = False) -> str | None:
        """``"9.30"``, ``"14h"``, ``"4pm"`` → ``"HH:MM"``; an end may pass midnight
        (``"24:30"``), as OSM allows."""
        if _sun_minutes(str(value)) is not None:
            return str(value)
        match = _TIME.match(str(value))
        if not match:
            return None
        hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
        if half in ("pm", "p.m.") and hour < 12:
            hour += 12
        elif half in ("am", "a.m.") and hour == 12:
            hour = 0
        if hour > 24 or minute > 59 or (hour == 24 and minute and not end):
            return None
        return f"{hour:02d}:{minute:02d}"

    # ---------------------------------------------------------------- rules

    def rules(self, text: str) -> tuple[list[str], bool] | None:
        """The OSM rules of ``text`` and whether a remark was left out, or None."""
        words = re.findall(r"[^\W\d_]+|\d+|[^\w\s.]", _fold(text))
        connectors = set(_WORDS[self.language]["range"] + _WORDS[self.language]["list"])
        if words and words[-1] in connectors:  # "... 15h30 et": the text was cut
            return None
        tokens = self.tokens(text)
        trimmed = self.trim(tokens)
        if trimmed is None:
            return None
        tokens, remark = trimmed
        items = self.items(tokens)
        if items is None:
            return None
        rules: list[_Rule] = []
        season = ""
        days: _Days | None = None
        times: list[str] | None = None
        last_days: _Days | None = None
        days_lead = False  # days were named before any season: they carry to later seasons
        seen_season = False
        mode = ""  # "closed" or "except" while their days or dates follow
        subtract = False
        previous = ""
        groups: set[str] = set()  # the day sets of the rules so far (carried when one)
        merged = False  # the last season was given to the rule before it
        unused = False  # a season was named and no hours given to it yet
        season_first = False  # the season was named before the days of its rules
        on_dates = False  # the season is a list of dates: hours on them are not "every day"
        headed = False  # the season comes under a heading: it is for what follows
        pending_dates: list[str] = []  # dates waiting for "cerrado"
        amend = False  # the next rule changes the hours of its days only ("se amplía")
        halves: list[tuple[int, str]] = []  # closures of a weekday's morning, afternoon ...

        def emit(rule_days: _Days | None, rule_times: str) -> None:
            nonlocal unused, headed, amend
            spec = rule_days.osm() if rule_days else "Mo-Su"
            if rule_times != "off":
                groups.add(spec)
            block = bool(season) and season_first and not on_dates and not amend
            rules.append(_Rule(season, spec, rule_times, rule_days is None and not on_dates, block))
            unused = headed = amend = False

        def new_season(value: str) -> bool:
            """Start a season; False when the one before got no hours ("du 1er avril
            au 17 juin." says when, not at what time)."""
            nonlocal season, merged, unused, on_dates, season_first
            if unused:
                return False
            season, merged, unused, on_dates = value, False, True, False
            season_first = days is None
            return True

        items = [*items, ("stop", None)]
        quiet = ("in", "amend", "undated", "half")  # no part of the rules' flow
        for index, (kind, value) in enumerate(items):
            after = [
                *[k for k, _ in items[index + 1 :] if k not in quiet][:2],
                "stop",
                "stop",
            ]
            if kind == "stop":
                if times is not None:
                    if days is not None:
                        return None
                    emit(None, ",".join(times))
                    times = None
                if days is not None:
                    if mode == "closed":
                        emit(days, "off")
                    else:
                        return None
                if (
                    unused
                    and (not headed or index == len(items) - 1)
                    and not (previous == "season" and after[:2] == ["times", "stop"])
                ):  # a season with no hours (at the end even under a heading); "aperto dal
                    return None  # 1 aprile al 30 settembre. Orari: 10.00-12.00." has them
                if pending_dates:
                    return None
                if (
                    season
                    and not season_first
                    and not merged
                    and rules[-1:]
                    and (rules[-1].season == season and rules[-1].times != "off")
                ):  # "Sábados, domingos y festivos de agosto de 10 a 15 horas." ends there
                    season = ""
                days, subtract = None, False
                mode = "closed" if mode == "closed" and after[0] == "dates" else ""
            elif kind == "season":
                if mode == "except":  # "le week-end de 12h à 18h sauf octobre": not said
                    return None
                if previous == "times" and "," in str(value) and after[0] == "days" and not headed:
                    return None  # "de 14h à 18h de novembre à mars et d'avril à octobre du"
                if mode == "closed" and after[0] == "stop":  # "cerrado ... y mes de agosto"
                    rules.append(_Rule(str(value), "", "off"))
                    continue
                if days is not None and times is None and after[0] == "closed":
                    pending_dates.append(str(value))  # "Domingos, festivos, agosto: cerrado"
                    continue
                if days is None and after[0] == "closed":
                    pending_dates.append(str(value))  # "So. 13-19 Uhr | 24.-26.12.2025 geschlossen"
                    continue
                mode, seen_season = "", True
                if times is not None and days is None:  # "du 1er avril ... de 10h à 19h et du"
                    emit(None, ",".join(times))
                    times = None
                    if not new_season(str(value)):
                        return None
                elif previous == "season" and not merged:  # "del 1 ... y del 1 de octubre"
                    season = f"{season},{value}"
                elif (
                    previous == "times"
                    and not headed
                    and rules
                    and not rules[-1].season
                    and days is None
                    and (after[0] in ("stop", "season", "in") or after[:2] == ["times", "season"])
                ):  # "de 10h à 18h du 1er avril au 31 octobre"
                    rules[-1].season, merged = str(value), True
                elif not new_season(str(value)):
                    return None
            elif kind == "in":
                continue  # "de 14h30 à 18h30 en juillet-août": the season follows the rule
            elif kind == "heading":
                headed = True  # "Horario de verano del 15 de junio al 15 de septiembre."
                continue
            elif kind == "half":  # "chiuso lunedì pomeriggio": checked when the rules are known
                day, part = value
                if day is None:  # "(al mattino solo per scolaresche)": the days just read
                    if previous != "times" or not rules or rules[-1].times == "off":
                        return None
                    halves.extend(
                        (d, part) for d in range(7) if OSM_DAYS[d] in _day_set(rules[-1].days)
                    )
                    continue
                if mode != "closed" and after[0] != "closed":
                    return None
                halves.append(value)
                continue
            elif kind == "undated":  # "Cerrado: ..., Jueves y Viernes Santos, 12 de octubre"
                if mode != "closed" or times is not None or days is not None:
                    return None  # "Semana Santa: de 10 a 14 h": when? not guessed
                continue
            elif kind == "amend":  # "Verano: los jueves se amplía el horario de 9:30 a 22:30"
                amend = True  # those days' hours change in the season, the others stay
                continue
            elif kind == "dates":
                if mode in ("closed", "except"):
                    rules.append(_Rule(str(value), "", "off"))
                elif "closed" in [k for k, _ in items[index + 1 :]][:1] or (
                    days is not None and times is None and after[0] == "closed"
                ):  # "Lunes, 24 y 31 diciembre: cerrado"
                    pending_dates.append(str(value))
                elif after[0] == "times" and days is None and times is None:
                    if not new_season(str(value)):  # "14 juillet et 15 août de 14h à 18h"
                        return None
                    on_dates = True
                elif times is not None and days is None and after[0] == "stop":
                    if not new_season(str(value)):  # "de 10 a 14 horas, los días 6 de enero"
                        return None
                    on_dates = True
                    emit(None, ",".join(times))
                    times = None
                else:
                    return None
            elif kind == "closed":
                if pending_dates and times is not None and days is None:
                    emit(None, ",".join(times))  # "11.00-21.00 Uhr 24.12. geschlossen"
                    times = None
                rules.extend(_Rule(dated, "", "off") for dated in pending_dates)
                if days is not None and times is None:
                    emit(days, "off")
                    days = None
                elif not pending_dates:
                    mode = "closed"
                pending_dates = []
            elif kind == "except":
                mode, subtract = "except", days is not None and times is None
            elif kind == "days":
                assert isinstance(value, _Days)
                days_lead = days_lead or not seen_season
                if mode == "except" and subtract and days is not None:
                    days = _Days([d for d in days.days if d not in value.days], days.holiday)
                    if value.holiday:
                        days.holiday = False
                    mode = ""
                elif mode in ("closed", "except"):
                    emit(value, "off")
                elif times is not None:
                    if after[0] == "times":  # "de 14h à 17h le week-end de 10h à 17h"
                        return None
                    emit(value, ",".join(times))
                    last_days, times = value, None
                elif days is not None and set(days.days) != set(value.days):
                    return None
                else:
                    days = value
            elif kind == "times":
                assert isinstance(value, list)
                if days is not None:
                    emit(days, ",".join(value))
                    last_days, days = days, None
                elif previous == "dates" and on_dates and unused and after[0] != "days":
                    emit(None, ",".join(value))  # "06.12.2025: 14:00 - 20:00 Uhr"
                elif previous == "season" and unused and _few_days(season) and after[0] != "days":
                    on_dates = True  # "25.-26.12.: 11-18 Uhr": every day of a few
                    emit(None, ",".join(value))
                elif previous == "season" and last_days is not None and after[0] != "days":
                    if (len(groups) > 1 or not days_lead) and len(set(last_days.days)) < 7:
                        return None  # which days? not guessed (every day carries over)
                    if merged and after[0] != "season":
                        return None
                    emit(last_days, ",".join(value))
                elif times is not None:
                    return None
                else:
                    times = value
                mode = ""  # hours end "closed" and "except": "Horario reducido, de 10 a 14 h"
            previous = kind
        if not rules and [k for k, _ in items if k != "stop"] == ["closed"]:
            return ["off"], remark  # "Tancat", "Cerrado": closed, every day
        if not rules or _adds_to_earlier(rules) or _year_round_after_season(rules):
            return None
        _year_for_closed_dates(rules)
        # closed dates and seasons are exceptions to the hours, wherever the text names them
        # ("24.12. geschlossen. Täglich 10-18 Uhr"): last, or OSM's later hours would open them
        rules = [r for r in rules if r.days or r.times != "off"] + [
            r for r in rules if not r.days and r.times == "off"
        ]
        rules = _season_weeks(rules)
        halved = _without_halves(rules, halves)
        if halved is None:
            return None
        rules = halved
        if any(r.implicit for r in rules) and any(
            not r.implicit and r.times != "off" and r.days != "Mo-Su" for r in rules
        ):  # "du 1er février au 31 mai de 14h à 18h ... du mardi au dimanche": which days?
            return None
        return list(dict.fromkeys(rule.osm() for rule in rules)), remark


def _audience_halves(tokens: list[Token]) -> list[Token]:
    """A bracket after hours that gives a part of the day to groups or by appointment
    ("9.00-12.30, 15.00-18.00 (al mattino solo per scolaresche o gruppi su prenotazione)")
    as ``("half", (None, part))``: that part of the days just read is not the public's."""
    out = list(tokens)
    i = 1
    while i < len(out):
        close = next((n for n in range(i, len(out)) if out[n] == ("paren", ")")), None)
        inside = out[i + 1 : close]
        words = [t for t in inside if t[0] not in ("range", "noise")]
        if (
            out[i] == ("paren", "(")
            and out[i - 1][0] in ("time", "num")
            and close is not None
            and words[:1]
            and words[0][0] == "daypart"
            and words[0][1] in _HALF_DAYS
            and any(k == "appointment" or v in _AUDIENCES for k, v in inside)
            and not any(k in ("time", "num", "day", "month") for k, _ in inside)
        ):
            out[i : close + 1] = [("half", (None, _HALF_DAYS[str(words[0][1])]))]
        i += 1
    return out


def _half_closures(tokens: list[Token]) -> list[Token]:
    """A weekday and a part of the day among closed days ("chiuso lunedì pomeriggio e
    martedì mattina") or before "closed" ("Domingos y lunes noche: cerrado") as one
    ``("half", (weekday, "am" | "pm" | "night"))`` token."""
    out: list[Token] = []
    closing = False  # among the days and dates after "closed"
    for n, (kind, value) in enumerate(tokens):
        ahead = [k for k, _ in tokens[n + 1 : n + 3] if k != "colon"][:1]
        if (
            kind == "daypart"
            and value in _HALF_DAYS
            and (closing or ahead == ["closed"])
            and out
            and out[-1][0] == "day"
        ):
            out[-1] = ("half", (int(out[-1][1]), _HALF_DAYS[str(value)]))
            continue
        if kind == "closed":
            closing = True
        elif kind not in ("day", "list", "range", "colon", "daymonth"):
            closing = False
        out.append((kind, value))
    return out


def _without_halves(rules: list[_Rule], halves: list[tuple[int, str]]) -> list[_Rule] | None:
    """The rules with the closed part of each weekday taken out: a range that starts
    before 12:00 and ends by 14:00 is the morning's, one from 12:00 on the afternoon's,
    one from 18:00 on the evening's. A rule with days whose hours change is followed by
    one of their own; None when a range runs into the closed part ("10.00-19.00, chiuso
    lunedì pomeriggio": when does it close?), and when no rule gives the weekday hours
    ("Mardi-dimanche 10h-18h, fermé le lundi matin": then when is Monday open?)."""
    out = list(rules)
    for day, _ in halves:
        if not any(
            r.times != "off" and r.days and OSM_DAYS[day] in _day_set(r.days) for r in rules
        ):
            return None
    for rule in list(out):
        if rule.times == "off" or not rule.days:
            continue
        spans = rule.times.split(",")
        minutes = _minutes(rule.times)
        changed: dict[str, list[int]] = {}  # the day's hours left: its weekdays
        for day in range(7):
            parts = {p for d, p in halves if d == day}
            if not parts or OSM_DAYS[day] not in _day_set(rule.days):
                continue
            kept = list(spans)
            for part in parts:
                cut, late = (hour * 60 for hour in _HALF_BOUNDS[part])
                if any(a < cut and b > late for a, b in minutes):
                    return None
                kept = [
                    span
                    for span, (a, _) in zip(spans, minutes, strict=True)
                    if span in kept and (a >= cut) == (part == "am")
                ]
            if len(kept) < len(spans):
                changed.setdefault(",".join(kept) or "off", []).append(day)
        at = out.index(rule)
        if len(changed) == 1 and _Days(next(iter(changed.values()))).osm() == rule.days:
            out[at] = _Rule(rule.season, rule.days, next(iter(changed)), rule.implicit, rule.block)
            continue  # all its days changed alike: "Mo-Th 15:00-18:00"
        for times, days in changed.items():
            at += 1
            out.insert(at, _Rule(rule.season, _Days(days).osm(), times))
    return out


def _months_of_years(tokens: list[Token], i: int) -> tuple[Token, int] | None:
    """A season of whole months, the last with its year ("settembre 2011 a giugno 2012",
    "de septiembre a junio de 2012"), from the first day of the first to the last of the
    last: ``2011 Sep 01-2012 Jun 30``; None for other tokens."""
    kinds = [k for k, _ in tokens[i : i + 5]]
    if kinds == ["month", "year", "range", "month", "year"]:
        first_year, last, last_year = int(tokens[i + 1][1]), i + 3, int(tokens[i + 4][1])
    elif kinds[:4] == ["month", "range", "month", "year"]:
        last, last_year = i + 2, int(tokens[i + 3][1])
        first_year = last_year if tokens[i][1] <= tokens[last][1] else last_year - 1
    else:
        return None
    first, final = int(tokens[i][1]), int(tokens[last][1])
    if (first_year, first) > (last_year, final):
        return None
    end = calendar.monthrange(last_year, final + 1)[1]
    season = f"{first_year} {OSM_MONTHS[first]} 01-{last_year} {OSM_MONTHS[final]} {end:02d}"
    return ("season", season), last + 2


def _few_days(season: str) -> bool:
    """Whether an OSM season is one range of dates a week long or less ("Dec 25-Dec 26")."""
    found = re.fullmatch(r"(?:\d{4} )?(\w{3}) (\d{2})-(?:\d{4} )?(\w{3}) (\d{2})", season)
    if not found:
        return False
    first = OSM_MONTHS.index(found[1]) * 31 + int(found[2])
    last = OSM_MONTHS.index(found[3]) * 31 + int(found[4])
    if last < first:  # "Dec 28-Jan 02"
        last += 12 * 31
    return last - first <= 7


def _without_other_parts(tokens: list[Token]) -> list[Token]:
    """After a first labelled part ("Borgo: ... ."), the sentences of later labelled parts
    ("Rocca: martedì-domenica 10.00-19.00, lunedì chiuso.") are left out: the first
    part's hours are the place's."""
    out = list(tokens)
    i = 1
    while i < len(out):
        k = i
        while k < len(out) and out[k][0] == "unknown":
            k += 1
        if out[i - 1][0] == "stop" and k > i and out[k : k + 1] == [("colon", ":")]:
            end = next((n for n in range(k, len(out)) if out[n][0] == "stop"), len(out))
            del out[i:end]
        i += 1
    return out


def _hours_follow(tokens: list[Token], i: int) -> bool:
    """Whether the days at ``i`` are followed by hours: "Dom y fest: 9:00 - 14:00 h", not
    "17.15 domenica, ora legale (aprile-ottobre)"."""
    while i < len(tokens) and tokens[i][0] in (*_DAY_KINDS, "list", "range", "colon"):
        if tokens[i][0] == "list" and tokens[i + 1 : i + 2] and tokens[i + 1][0] == "time":
            return False  # "16.45 in settimana, 17.15 domenica": the list goes on
        i += 1
    return i < len(tokens) and tokens[i][0] in ("time", "num", "allday")


def _weekdays_of_dates(tokens: list[Token]) -> list[Token]:
    """Without the weekday that names one date before its hours ("Freitag, 29.11.: 16:00 -
    20:00 Uhr", "Samstag den 30.11. 12-19 Uhr"): the hours are the date's."""
    out = list(tokens)
    i = 0
    while i < len(out):
        j = i + 1 + (out[i + 1 : i + 2] == [("list", ",")])
        kinds = [k for k, _ in out[j : j + 6]]
        if out[i][0] == "day" and kinds[:2] == ["num", "month"]:
            rest = kinds[2 + (kinds[2:3] == ["year"]) :]
            rest = rest[rest[:1] == ["colon"] :]
            if rest[:1] == ["time"] or rest[:2] in (["num", "range"],):
                del out[i:j]
                continue
            before = out[i - 1][0] if i else ""
            dated = j == i + 1 and before not in ("range", "list")  # not "du mercredi au lundi"
            if (
                j == i + 1 and before != "range" and _dated_range(out, i)
            ):  # "Vr 25 maart 2016 t/m vr 30 september 2016"
                second = i + 4 + (kinds[2:3] == ["year"])
                del out[second]
                del out[i]
                continue
            if dated and (before == "closed" or rest[:1] == ["closed"]):
                del out[i]  # "Gesloten op maandag 5 mei 2014"
                continue
        i += 1
    return out


def _dated_range(tokens: list[Token], i: int) -> bool:
    """Whether a weekday and its date at ``i`` begin a range of such: "Vr 25 maart 2016 t/m
    vr 30 september 2016"."""
    kinds = [k for k, _ in tokens[i : i + 8]]
    j = 3 + (kinds[3:4] == ["year"])
    return kinds[j : j + 4] == ["range", "day", "num", "month"]


def _trim_sentences(tokens: list[Token], dropped: bool) -> tuple[list[Token], bool] | None:
    """Sentences of unknown words before or after the hours are left out, and unknown
    words after the last time; None if unknown words (or a season's name that does not
    head its months) remain elsewhere."""
    boundary = ("stop", "paren")
    sentences: list[list[Token]] = [[]]
    for token in tokens:
        sentences[-1].append(token)
        if token[0] in boundary:
            sentences.append([])
    bearing = [n for n, s in enumerate(sentences) if any(k in _SCHEDULE for k, _ in s)]
    if not bearing:
        return None
    kept: list[Token] = []
    for n, sentence in enumerate(sentences):
        unknown = [
            i for i, (k, _) in enumerate(sentence) if k in ("unknown", "season_name", "appointment")
        ]
        if not unknown:
            kept.extend(sentence)
            continue
        if n not in bearing:
            if (
                bearing[0] < n < bearing[-1]
                or any(k == "season_name" for k, _ in sentence)
                or (n < bearing[0] and any(k == "appointment" for k, _ in sentence))
                or (n == bearing[-1] + 1 and sentences[n - 1][-1:] == [("paren", "(")])
            ):  # a sentence among the hours, a season's name, a qualifier in brackets
                return None  # after the hours ("(capilla lateral)"): not guessed
            kept.extend(t for t in sentence if t[0] in boundary)
            dropped = True
            continue
        marks = [i for i, (k, _) in enumerate(sentence) if k in _SCHEDULE]
        if (
            n != bearing[-1]
            or unknown[0] < marks[-1]
            or sentence[marks[-1]][0] not in ("time", "num", "year", "allday")
            or any(k == "season_name" for k, _ in sentence[unknown[0] :])
        ):  # "... Durante los meses de verano el horario será de mañana": not guessed
            return None
        kept.extend(sentence[: unknown[0]])
        kept.extend(t for t in sentence[unknown[0] :] if t[0] in boundary)
        dropped = True
    return kept, dropped


def _labels_part(tokens: list[Token], i: int, first_mark: int) -> bool:
    """Whether the section word at ``i`` labels a second part of the place after the
    first hours: "... h Bar Saddle: Lun - Sab: ...", "... h.Horarios de servicio: ..."."""
    if i <= first_mark or tokens[i - 1][0] not in ("time", "num", "stop"):
        return False
    j = i + 1
    while j < len(tokens) and j <= i + 2 and tokens[j][0] == "unknown":
        j += 1
    return j < len(tokens) and tokens[j][0] == "colon"


def _opens_bracket(tokens: list[Token], i: int) -> bool:
    """Whether the token at ``i`` opens a bracket, words the reader does not know aside:
    "(previa cita)", "(es preciso cita previa ...)"."""
    while i > 0 and tokens[i - 1][0] == "unknown":
        i -= 1
    return i > 0 and tokens[i - 1] == ("paren", "(")


def _ends(span: str) -> tuple[str, str]:
    """The start and end of an OSM time span, solar ones included ("(sunrise-00:30)-sunset")."""
    found = re.fullmatch(r"(\(.*?\)|[^-]+)-(.+)", span)
    assert found, span
    return found[1], found[2]


def _minutes(times: str) -> list[tuple[int, int]]:
    spans = []
    for span in times.split(","):
        start, end = (_sun_minutes(t) or int(t[:2]) * 60 + int(t[3:]) for t in _ends(span))
        spans.append((start, end if end > start else end + 24 * 60))
    return spans


def _day_set(spec: str) -> set[str]:
    found: set[str] = set()
    for part in spec.split(","):
        if "-" in part:
            first, last = (OSM_DAYS.index(p) for p in part.split("-"))
            found.update(OSM_DAYS[(first + s) % 7] for s in range((last - first) % 7 + 1))
        else:
            found.add(part)
    return found


def _season_weeks(rules: list[_Rule]) -> list[_Rule]:
    """A season named before its days ("Agosto: Lun - sáb: 13:00 - 24:00 h") has a week of
    its own: it starts with "<season> off", so days of the year's rules it does not name
    are closed in it, as the text means (OSM would keep them open)."""
    year_round = any(not r.season and r.times != "off" for r in rules)
    out: list[_Rule] = []
    seen: set[str] = set()
    for rule in rules:
        if year_round and rule.block and rule.times != "off" and rule.season not in seen:
            out.append(_Rule(rule.season, "", "off"))
            seen.add(rule.season)
        out.append(rule)
    return out


def _year_for_closed_dates(rules: list[_Rule]) -> None:
    """Closed dates listed one after another take the year the last of them names:
    "6 de enero; 29 y 30 de marzo; ... 31 de diciembre de 2018"."""
    run: list[_Rule] = []
    for rule in [*rules, _Rule()]:
        if not rule.days and rule.times == "off" and "-" not in rule.season:
            run.append(rule)
            continue
        if len(run) > 1 and run[-1].season[:4].isdigit():
            year = run[-1].season[:4]
            for dated in run[:-1]:
                dated.season = ",".join(
                    part if part[:4].isdigit() else f"{year} {part}"
                    for part in dated.season.split(",")
                )
        run = []


def _year_round_after_season(rules: list[_Rule]) -> bool:
    """Whether hours for the whole year follow hours of a season: OSM would let them
    replace the season's, which no text means."""
    seen_season = False
    for rule in rules:
        if rule.times == "off":
            continue
        if rule.season:
            seen_season = True
        elif seen_season:
            return True
    return False


def _adds_to_earlier(rules: list[_Rule]) -> bool:
    """Whether a rule names days an earlier rule of its season named, at hours that do not
    meet the earlier ones. When its days are all among the earlier rule's ("De martes a
    sábado de 9:30 a 15 horas. Jueves de 17 a 20 horas"), it adds hours to them: its times
    become both (OSM would otherwise replace them). When they are only partly, which is
    meant is not known: True, and the text is not read."""
    for n, later in enumerate(rules):
        for earlier in rules[:n]:
            if "off" in (later.times, earlier.times) or later.season != earlier.season:
                continue
            if not _day_set(later.days) & _day_set(earlier.days):
                continue
            if any(
                a < d and c < b
                for a, b in _minutes(earlier.times)
                for c, d in _minutes(later.times)
            ):
                continue
            if not _day_set(later.days) <= _day_set(earlier.days):
                return True
            later.times = ",".join(sorted(set(earlier.times.split(",") + later.times.split(","))))
    return False


def read_text(text: str, language: str | None = None) -> tuple[str, bool] | None:
    """(OSM ``opening_hours``, whether a remark before or after the hours was left out)
    of free text in ``language`` (else in the language whose words cover the text best),
    or None when it cannot be read."""
    if language in LANGUAGES:
        order = [language]
    else:  # the language whose words cover the text best, ties in LANGUAGES order
        unknown = {lang: _Reader(lang).unknown_words(text) for lang in LANGUAGES}
        order = [min(LANGUAGES, key=lambda lang: unknown[lang])]
    for lang in order:
        found = _Reader(lang).rules(text)
        if found:
            return "; ".join(found[0]), found[1]
    return None


def text_to_osm(text: str, language: str | None = None) -> str | None:
    """The OSM ``opening_hours`` of free text (see :func:`read_text`), or None."""
    found = read_text(text, language)
    return found[0] if found else None
