"""A deterministic, messy tourism-listing feed for the ingest benchmark, and its mapping.

:func:`generate` makes ``n`` source records shaped like a real DMO listings API: names in
en/de/fr/it with languages missing or blank, HTML descriptions full of entities, phones in
many formats (sometimes numbers), coordinates as floats or text with decimal commas, empty
and missing fields, category spellings in several languages that need a map, 0-4 images
(some with protocol-relative URLs), weekly opening hours for some listings (weekday names
in four languages, times as ``9am``, ``18.30``, ``09:00:00``), and dates for events.
Values repeat as in the bundled real feeds (``python -m benchmarks.repetition``): names and
descriptions hardly ever, phones sometimes (chains, shared offices), categories, weekdays
and times all the time.

:func:`mapping` is the mapping document of that feed (fetcher ``json_api``, next-link
pagination); :func:`mapping_yaml` is the same as YAML text. Every record maps and
validates except a deliberately tiny share, listed by :func:`invalid_indices`: every
10,000th record (index 7777 mod 10,000) has a category spelling missing from the map (a
mapping error) and every 5,000th (index 2500 mod 5,000) a latitude out of range (a
validation error), 0.03 % in all.
"""

from __future__ import annotations

import random
from typing import Any

import yaml

#: Source name of the generated feed (the Scrapy spider name).
SOURCE = "bench-listings"
#: Where the records are in a page, and the next-page link (as ``paginate_json`` writes them).
RECORDS_KEY = "data"
NEXT_KEY = "next"

LANGUAGES = ("de", "en", "fr", "it")
#: Chance that a record has text in a language (at least one language is always kept).
LANGUAGE_SHARE = {"de": 0.85, "en": 0.7, "fr": 0.4, "it": 0.25}

# Category spellings as DMOs publish them, with the canonical category each maps to.
CATEGORY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "attraction": (
        "Attraction",
        "attractions",
        "Sehenswürdigkeit",
        "SEHENSWUERDIGKEIT",
        "sight",
        "Museum",
        "poi",
        "Curiosité",
    ),
    "restaurant": ("Restaurant", "restaurants", "Gastronomie", "gastro", "Ristorante", "Café"),
    "lodging": (
        "Hotel",
        "hotels",
        "Unterkunft",
        "accommodation",
        "lodging",
        "B&B",
        "Hébergement",
        "Ferienwohnung",
    ),
    "event": ("Event", "events", "Veranstaltung", "Événement", "evento", " event "),
    "activity": ("Activity", "Aktivität", "sport", "Freizeit"),
    "tour": ("Tour", "Führung", "Guided tour", "Visite guidée"),
    "shop": ("Shop", "Einkaufen", "shopping", "Boutique"),
    "service": ("Service", "Dienstleistung", "Tourist information"),
}
#: Share of records per canonical category.
CATEGORY_SHARE = {
    "attraction": 0.25,
    "restaurant": 0.22,
    "lodging": 0.2,
    "event": 0.15,
    "activity": 0.06,
    "tour": 0.05,
    "shop": 0.05,
    "service": 0.02,
}
#: A spelling the mapping does not know: the records that carry it fail to map.
UNMAPPED_SPELLING = "Sonstiges / Divers"

# (place, postal code, region, latitude, longitude)
PLACES = (
    ("Zürich", 8001, "Zürich", 47.3769, 8.5417),
    ("Luzern", 6003, "Luzern", 47.0502, 8.3093),
    ("Bern", 3011, "Bern", 46.948, 7.4474),
    ("Genève", 1204, "Genève", 46.2044, 6.1432),
    ("Lausanne", 1003, "Vaud", 46.5197, 6.6323),
    ("Montreux", 1820, "Vaud", 46.4312, 6.9107),
    ("Lugano", 6900, "Ticino", 46.0037, 8.9511),
    ("Locarno", 6600, "Ticino", 46.1709, 8.7995),
    ("Interlaken", 3800, "Bern", 46.6863, 7.8632),
    ("Grindelwald", 3818, "Bern", 46.6242, 8.0414),
    ("Zermatt", 3920, "Valais", 46.0207, 7.7491),
    ("St. Moritz", 7500, "Graubünden", 46.4908, 9.8355),
    ("Davos", 7270, "Graubünden", 46.8027, 9.836),
    ("Appenzell", 9050, "Appenzell Innerrhoden", 47.3316, 9.4096),
    ("Schaffhausen", 8200, "Schaffhausen", 47.6973, 8.6349),
    ("Basel", 4051, "Basel-Stadt", 47.5596, 7.5886),
)
STREETS = (
    "Bahnhofstrasse",
    "Hauptgasse",
    "Seestrasse",
    "Rue du Lac",
    "Rue du Marché",
    "Via Nassa",
    "Via della Posta",
    "Dorfstrasse",
    "Kirchplatz",
    "Promenade",
)

# Name templates per category: (en, de, fr, it); {p} is the place, {x} a proper name.
NAMES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "attraction": (
        ("Museum of {p}", "Museum {p}", "Musée de {p}", "Museo di {p}"),
        ("{p} Castle", "Schloss {p}", "Château de {p}", "Castello di {p}"),
        ("Old Town of {p}", "Altstadt {p}", "Vieille ville de {p}", "Città vecchia di {p}"),
        ("{p} Cathedral", "Münster {p}", "Cathédrale de {p}", "Duomo di {p}"),
        ("{x} Falls", "{x}-Wasserfall", "Cascade du {x}", "Cascata del {x}"),
        ("Botanical Garden", "Botanischer Garten", "Jardin botanique", "Orto botanico"),
        ("{x} Viewpoint", "Aussichtspunkt {x}", "Belvédère du {x}", "Belvedere del {x}"),
    ),
    "restaurant": (
        ("Restaurant {x}", "Restaurant {x}", "Restaurant {x}", "Ristorante {x}"),
        ("Inn {x}", "Gasthof {x}", "Auberge {x}", "Locanda {x}"),
        ("Café {x}", "Café {x}", "Café {x}", "Caffè {x}"),
        ("{x} Wine Bar", "Weinstube {x}", "Bar à vin {x}", "Enoteca {x}"),
    ),
    "lodging": (
        ("Hotel {x}", "Hotel {x}", "Hôtel {x}", "Albergo {x}"),
        ("Guesthouse {x}", "Pension {x}", "Maison d'hôtes {x}", "Pensione {x}"),
        ("{p} Youth Hostel", "Jugendherberge {p}", "Auberge de jeunesse de {p}", "Ostello {p}"),
        ("Holiday flat {x}", "Ferienwohnung {x}", "Appartement {x}", "Appartamento {x}"),
    ),
    "event": (
        ("{p} Jazz Festival", "Jazzfestival {p}", "Festival de jazz de {p}", "Jazz festival {p}"),
        ("Christmas Market", "Weihnachtsmarkt {p}", "Marché de Noël", "Mercatino di Natale"),
        ("Open-air cinema", "Open-Air-Kino {p}", "Cinéma en plein air", "Cinema all'aperto"),
        ("Wine festival", "Weinfest {p}", "Fête du vin", "Festa del vino"),
        ("{x} Concert", "Konzert {x}", "Concert {x}", "Concerto {x}"),
    ),
    "activity": (
        ("E-bike rental {x}", "E-Bike-Verleih {x}", "Location de vélos {x}", "Noleggio bici {x}"),
        ("Paragliding {p}", "Gleitschirmfliegen {p}", "Parapente {p}", "Parapendio {p}"),
        ("{x} Lido", "Strandbad {x}", "Plage {x}", "Lido {x}"),
    ),
    "tour": (
        ("Guided walk {p}", "Stadtführung {p}", "Visite guidée de {p}", "Visita guidata {p}"),
        (
            "Cheese dairy tour",
            "Schaukäserei-Tour",
            "Visite de la fromagerie",
            "Tour del caseificio",
        ),
    ),
    "shop": (
        ("Chocolatier {x}", "Confiserie {x}", "Chocolatier {x}", "Cioccolateria {x}"),
        ("{x} Souvenirs", "Souvenirs {x}", "Souvenirs {x}", "Souvenir {x}"),
    ),
    "service": (
        (
            "Tourist office {p}",
            "Tourist Information {p}",
            "Office du tourisme",
            "Ufficio turistico",
        ),
    ),
}
PROPER = (
    "Adler",
    "Löwen",
    "Bären",
    "Sonne",
    "Rössli",
    "Krone",
    "Edelweiss",
    "Alpenrose",
    "Bellevue",
    "Du Lac",
    "Belvédère",
    "Stella",
    "Giessbach",
    "Rhein",
    "Pilatus",
    "Säntis",
    "Zum Goldenen Hirschen",
    "Chez Marcel",
    "Müller & Söhne",
)
#: Family names are built from two of these and an ending, so that names repeat as rarely
#: as in a real feed (Fáilte Ireland's 3,324 names: 98 % distinct).
SYLLABLES = (
    "Berg",
    "Wald",
    "See",
    "Tal",
    "Matt",
    "Bach",
    "Stein",
    "Moos",
    "Feld",
    "Au",
    "Egg",
    "Horn",
    "Brunn",
    "Hof",
    "Wil",
    "Kirch",
    "Rain",
    "Grund",
    "Acker",
    "Weid",
)
ENDINGS = ("er", "mann", "li", "ig", "hof", "", "i", "egger")
#: Share of listings whose phone is another listing's (a chain, a shared tourist office);
#: events share their organiser's more often. Real feeds: 37 % of the Open Data Hub events'
#: phones distinct, 79 % of Fáilte Ireland's attractions'.
SHARED_PHONE = 0.3
SHARED_EVENT_PHONE = 0.6

# HTML description fragments per language; {n} is the name, {p} the place.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "de": (
        "<p>Erleben Sie <strong>{n}</strong> &ndash; mitten in {p}.</p>",
        "<p>Ideal f&uuml;r Familien &amp; Gruppen.<br/>Hunde sind willkommen.</p>",
        "<ul><li>Gratis WLAN</li><li>Parkpl&auml;tze vorhanden</li></ul>",
        "<p>Ge&ouml;ffnet seit 1892. &laquo;Ein Erlebnis!&raquo;</p>",
        "<div>Reservation empfohlen:&nbsp;Tel. siehe unten.</div>",
    ),
    "en": (
        "<p>Discover <b>{n}</b> &ndash; right in the heart of {p}.</p>",
        "<p>Perfect for families &amp; groups.<br>Dogs welcome.</p>",
        "<ul><li>Free Wi&#8209;Fi</li><li>Parking on site</li></ul>",
        "<p>&quot;A must-see&quot; &mdash; open since 1892.</p>",
        "<p>Booking recommended &#8211; see contact details.</p>",
    ),
    "fr": (
        "<p>D&eacute;couvrez <em>{n}</em> au c&oelig;ur de {p}.</p>",
        "<p>Id&eacute;al pour les familles &amp; les groupes.</p>",
        "<p>&laquo;&nbsp;Une exp&eacute;rience unique&nbsp;&raquo;</p>",
        "<ul><li>Wi-Fi gratuit</li><li>Acc&egrave;s en fauteuil roulant</li></ul>",
    ),
    "it": (
        "<p>Scoprite <strong>{n}</strong> nel cuore di {p}.</p>",
        "<p>Ideale per famiglie &amp; gruppi.</p>",
        "<p>Aperto dal 1892 &ndash; prenotazione consigliata.</p>",
    ),
}
#: Descriptions that are empty once the HTML is gone (a missing value in disguise).
EMPTY_HTML = ("<p>&nbsp;</p>", "<p></p>", "   ", "")

TAGS = ("family", "outdoor", "indoor", "wellness", "culture", "kids", "dogs", "winter", "summer")
AMENITIES = ("wifi", "parking", "pool", "spa", "restaurant", "bar", "lift", "ev-charging")

DAY_STYLES: tuple[tuple[Any, ...], ...] = (
    ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    ("Mon.", "Tue.", "Wed.", "Thu.", "Fri.", "Sat.", "Sun."),
    (0, 1, 2, 3, 4, 5, 6),
)
YES = ("yes", "ja", "true", "1", "oui", True)
NO = ("no", "nein", "false", "0", "non", False)


def _time(hour: int, minute: int, style: int) -> str:
    """A time of day as DMOs write it: 9:00, 09:00:00, 9am, 18.30, 5:30 PM."""
    if style == 0:
        return f"{hour}:{minute:02d}"
    if style == 1:
        return f"{hour:02d}:{minute:02d}:00"
    if style == 2:
        half = "am" if hour < 12 else "pm"
        h12 = hour % 12 or 12
        return f"{h12}{half}" if minute == 0 else f"{h12}:{minute:02d}{half}"
    if style == 3:
        return f"{hour}.{minute:02d}"
    half = "AM" if hour < 12 else "PM"
    return f"{hour % 12 or 12}:{minute:02d} {half}"


def _phone(rng: random.Random) -> Any:
    """A Swiss phone number in one of many published formats (sometimes a bare number)."""
    area = rng.choice((21, 22, 31, 41, 43, 44, 61, 71, 81, 91))
    a, b, c = rng.randrange(100, 1000), rng.randrange(10, 100), rng.randrange(10, 100)
    style = rng.randrange(9)
    if style == 0:
        return f"+41 {area} {a} {b} {c}"
    if style == 1:
        return f"0{area} {a} {b} {c}"
    if style == 2:
        return f"+41 (0){area} {a} {b} {c}"
    if style == 3:
        return f"0041{area}{a}{b}{c}"
    if style == 4:
        return f"+41-{area}-{a}-{b}-{c}"
    if style == 5:
        return f"0{area}/{a}.{b}.{c}"
    if style == 6:
        return int(f"41{area}{a}{b}{c}")
    if style == 7:
        return f"Tel. 0{area}  {a} {b} {c} "
    return ""


def _coordinate(value: float, rng: random.Random) -> Any:
    """A coordinate as a float, text, text with a decimal comma, padded text, or empty."""
    style = rng.random()
    if style < 0.45:
        return round(value, 6)
    if style < 0.65:
        return f"{value:.5f}"
    if style < 0.85:
        return f"{value:.5f}".replace(".", ",")
    if style < 0.95:
        return f" {value:.4f} "
    return ""


def _names(rng: random.Random, category: str, place: str) -> dict[str, str]:
    template = rng.choice(NAMES[category])
    family = rng.choice(SYLLABLES) + rng.choice(SYLLABLES).lower() + rng.choice(ENDINGS)
    proper = f"{rng.choice(PROPER)} {family}" if rng.random() < 0.5 else family
    present = [lang for lang in LANGUAGES if rng.random() < LANGUAGE_SHARE[lang]]
    if not present:
        present = [rng.choice(LANGUAGES)]
    names: dict[str, str] = {}
    for lang in LANGUAGES:
        text = template[("en", "de", "fr", "it").index(lang)]
        if "{x}" not in text:  # "Botanical Garden": a real feed names which one
            text += " {x}"
        text = text.format(p=place, x=proper)
        if lang in present:
            roll = rng.random()
            if roll < 0.05:
                text = f"  {text.replace(' ', '  ')} "  # stray whitespace
            elif roll < 0.08:
                text = text.upper()
            names[lang] = text
        elif rng.random() < 0.1:
            names[lang] = ""  # the API sends the key with no text
    return names


def _descriptions(rng: random.Random, names: dict[str, str], place: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for lang, name in names.items():
        if not name or rng.random() < 0.15:
            continue
        if rng.random() < 0.05:
            out[lang] = rng.choice(EMPTY_HTML)
            continue
        # the first fragment names the listing: a real feed's descriptions are all distinct
        first, *others = DESCRIPTIONS[lang]
        parts = [first, *rng.sample(others, rng.randint(0, len(others)))]
        out[lang] = "\n".join(parts).format(n=name.strip(), p=place)
    return out


def _hours(rng: random.Random, category: str) -> list[dict[str, Any]]:
    days = rng.choice(DAY_STYLES)
    style = rng.randrange(5)
    if category == "restaurant":
        spans = [(11, 30, 14, 0), (18, 0, 22, 30)]
    else:
        opens = rng.choice((8, 9, 10))
        spans = [(opens, rng.choice((0, 30)), rng.choice((17, 18, 19)), rng.choice((0, 30)))]
    seasonal = rng.random() < 0.2
    rows: list[dict[str, Any]] = []
    for index, day in enumerate(days):
        if index == 6 and rng.random() < 0.5:
            rows.append({"day": day, "closed": rng.choice(YES)})
            continue
        for h1, m1, h2, m2 in spans:
            row: dict[str, Any] = {
                "day": day,
                "open": _time(h1, m1, style),
                "close": _time(h2 - (2 if index == 5 else 0), m2, style),
            }
            if seasonal:
                row["valid_from"] = "01.04.2025"
                row["valid_to"] = "31.10.2025"
            rows.append(row)
    return rows


def _dates(rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    month, day = rng.randint(1, 12), rng.randint(1, 20)
    for offset in range(rng.randint(1, 4)):
        start = f"2025-{month:02d}-{day + offset:02d}"
        style = rng.randrange(3)
        row: dict[str, Any] = {
            "start": start
            if style == 0
            else (f"{start}T19:30:00+02:00" if style == 1 else f"{start}T17:30:00Z")
        }
        if rng.random() < 0.6:
            row["time"] = rng.choice(("19:30", "7:30 PM", "20.00", "14:00:00"))
            row["until"] = rng.choice(("22:00", "23.30", "11pm", ""))
        if rng.random() < 0.2:
            row["end"] = f"2025-{month:02d}-{day + offset + 1:02d}"
        if rng.random() < 0.15:
            row["note"] = rng.choice(("Ausverkauft", "Sold out", "Complet", "  Premiere  "))
        if rng.random() < 0.05:
            row["cancelled"] = rng.choice(YES)
        rows.append(row)
    return rows


def _images(rng: random.Random, listing: int) -> list[dict[str, Any]]:
    images = []
    for number in range(rng.choice((0, 0, 1, 1, 2, 2, 3, 4))):
        host = rng.choice(
            ("https://cdn.visit-alps.invalid", "//cdn.visit-alps.invalid", "http://IMG.DMO.invalid")
        )
        image: dict[str, Any] = {"src": f"{host}/img/{listing}/{number}.jpg"}
        if rng.random() < 0.7:
            image["alt"] = rng.choice(("", "Aussenansicht", "View from the lake", "Intérieur"))
        if rng.random() < 0.5:
            image["credit"] = rng.choice(("© Schweiz Tourismus", "Foto: M. Muster", "  "))
        images.append(image)
    return images


def _category(rng: random.Random) -> str:
    roll = rng.random()
    for category, share in CATEGORY_SHARE.items():
        if roll < share:
            return category
        roll -= share
    return "attraction"


def invalid_indices(n: int) -> dict[int, str]:
    """The records (by index) made deliberately invalid, and why."""
    bad = {i: "validation: latitude out of range" for i in range(2500, n, 5000)}
    bad.update({i: "mapping: category spelling not in the map" for i in range(7777, n, 10_000)})
    return bad


def record(index: int, rng: random.Random) -> dict[str, Any]:
    """Source record number ``index`` (ids start at 100000), drawn from ``rng``."""
    ident = 100_000 + index
    category = _category(rng)
    place, postal, region, lat, lng = rng.choice(PLACES)
    roll = rng.random()
    raw_id: Any = ident if roll < 0.7 else str(ident) if roll < 0.9 else float(ident)
    if 0.95 < roll:
        raw_id = f" {ident} "
    names = _names(rng, category, place)
    out: dict[str, Any] = {
        "id": raw_id,
        "type": rng.choice(CATEGORY_SPELLINGS[category]),
        "name": names,
    }
    descriptions = _descriptions(rng, names, place)
    if descriptions:
        out["description"] = descriptions
    if rng.random() < 0.3:
        out["teaser"] = {"de": f"  Das Beste in {place}!  ", "en": f"The best of {place}."}
    if rng.random() < 0.8:
        slug = rng.choice(("https://www.visit-alps.invalid", "www.visit-alps.invalid"))
        out["link"] = f"{slug}/listing/{ident}"
    address: dict[str, Any] = {"city": place if rng.random() < 0.95 else ""}
    if rng.random() < 0.9:
        address["street"] = f"{rng.choice(STREETS)} {rng.randint(1, 120)}{rng.choice(('', 'a'))}"
    zip_roll = rng.random()
    address["zip"] = postal if zip_roll < 0.5 else str(postal) if zip_roll < 0.9 else ""
    if rng.random() < 0.5:
        address["region"] = region
    if rng.random() < 0.1:
        address["country"] = rng.choice(("ch", "CH", " ch "))
    out["address"] = address
    if rng.random() < 0.92 or "link" not in out:  # something always tells records apart
        out["geo"] = {
            "lat": _coordinate(lat + rng.uniform(-0.05, 0.05), rng),
            "lng": _coordinate(lng + rng.uniform(-0.05, 0.05), rng),
        }
    shared = SHARED_EVENT_PHONE if category == "event" else SHARED_PHONE
    owner = rng.randrange(index + 1) if rng.random() < shared else index
    contact: dict[str, Any] = {"phone": _phone(random.Random(owner * 7919 + 17))}
    if rng.random() < 0.75:
        local = rng.choice(("info", "Info", "booking", "hello"))
        contact["email"] = f"{local}@listing{ident}.invalid"
        if rng.random() < 0.1:
            contact["email"] = f"  {contact['email'].upper()} "
    if rng.random() < 0.6:
        web = rng.choice(
            ("www.listing{}.invalid", "http://Listing{}.INVALID/de/", "listing{}.invalid")
        )
        contact["web"] = web.format(ident)
    if rng.random() < 0.15:
        contact["fax"] = _phone(rng)
    out["contact"] = contact
    images = _images(rng, ident)
    if images or rng.random() < 0.5:
        out["images"] = images  # sometimes an empty list, sometimes no key
    if category in ("attraction", "restaurant", "shop", "activity", "service"):
        if rng.random() < 0.45:
            out["hours"] = _hours(rng, category)
    if category == "event":
        out["dates"] = _dates(rng)
    tags = rng.sample(TAGS, rng.randint(0, 3))
    tag_roll = rng.random()
    out["tags"] = tags if tag_roll < 0.4 else ", ".join(tags) if tag_roll < 0.9 else ""
    if category == "lodging":
        stars = rng.randint(1, 5)
        out["stars"] = rng.choice((stars, str(stars), f"{stars}.0", ""))
        amenities = rng.sample(AMENITIES, rng.randint(0, 5))
        out["amenities"] = amenities if rng.random() < 0.5 else " , ".join(amenities)
    if rng.random() < 0.6:
        out["accessible"] = rng.choice(YES + NO + ("",))
    if category == "restaurant":
        out["price"] = rng.choice(("€", "€€", "€€€", "", "CHF 20-40"))
    return out


def generate(n: int, seed: int = 2025) -> list[dict[str, Any]]:
    """``n`` source records, the same for the same ``n`` and ``seed``.

    Records listed by :func:`invalid_indices` are broken on purpose; the rest all map and
    validate with :func:`mapping`.
    """
    rng = random.Random(seed)
    records = [record(index, rng) for index in range(n)]
    for index, reason in invalid_indices(n).items():
        if reason.startswith("validation"):
            records[index]["geo"] = {"lat": "147,3769", "lng": "8,5417"}
        else:
            records[index]["type"] = UNMAPPED_SPELLING
    return records


def _category_map() -> dict[str, str]:
    """Spelling (as the mapping sees it: trimmed, lower case) → canonical category."""
    return {
        " ".join(spelling.split()).lower(): category
        for category, spellings in CATEGORY_SPELLINGS.items()
        for spelling in spellings
    }


def mapping(url: str, source: str = SOURCE) -> dict[str, Any]:
    """The mapping document of the generated feed, served at ``url``."""
    fields: dict[str, Any] = {
        "category": {"from": "type", "transform": ["text", "lower"], "map": _category_map()},
    }
    for target, source_field, transform in (
        ("name", "name", "text"),
        ("description", "description", "html_text"),
        ("short_description", "teaser", "text"),
    ):
        for lang in LANGUAGES:
            fields[f"{target}.{lang}"] = {"from": f"{source_field}.{lang}", "transform": transform}
    fields.update(
        {
            "url": {"from": "link", "transform": "url"},
            "subcategories": {"from": "tags", "transform": "split"},
            "location.street": {"from": "address.street", "transform": "text"},
            "location.postal_code": {"from": "address.zip", "transform": ["str", "text"]},
            "location.locality": {"from": "address.city", "transform": "text"},
            "location.region": "address.region",
            "location.country": {"from": "address.country", "transform": ["text", "upper"]},
            "location.latitude": {"from": "geo.lat", "transform": "float"},
            "location.longitude": {"from": "geo.lng", "transform": "float"},
            "contact.phone": {"from": "contact.phone", "transform": ["str", "text"]},
            "contact.email": {"from": "contact.email", "transform": ["text", "lower"]},
            "contact.website": {"from": "contact.web", "transform": "url"},
            "contact.fax": {"from": "contact.fax", "transform": ["str", "text"]},
            "images": {
                "each": "images",
                "fields": {
                    "url": {"from": "src", "transform": "url", "required": True},
                    "caption": {"from": "alt", "transform": "text"},
                    "credit": {"from": "credit", "transform": "text"},
                },
            },
            "attributes.stars": {"from": "stars", "transform": "int"},
            "attributes.amenities": {"from": "amenities", "transform": "split"},
            "attributes.wheelchair_accessible": {"from": "accessible", "transform": "bool"},
            "attributes.price_level": {"from": "price", "transform": "text"},
            "opening_hours": {
                "each": "hours",
                "fields": {
                    "weekday": {"from": "day", "transform": "weekday", "required": True},
                    "opens": {"from": "open", "transform": "time"},
                    "closes": {"from": "close", "transform": "time"},
                    "closed": {"from": "closed", "transform": "bool"},
                    "valid_from": {
                        "from": "valid_from",
                        "transform": {"date": {"format": "%d.%m.%Y"}},
                    },
                    "valid_to": {"from": "valid_to", "transform": {"date": {"format": "%d.%m.%Y"}}},
                },
            },
            "opening_dates": {
                "each": "dates",
                "fields": {
                    "date": {"from": "start", "transform": "date", "required": True},
                    "end_date": {"from": "end", "transform": "date"},
                    "opens": {"from": "time", "transform": "time"},
                    "closes": {"from": "until", "transform": "time"},
                    "closed": {"from": "cancelled", "transform": "bool"},
                    "note": {"from": "note", "transform": "text"},
                },
            },
        }
    )
    return {
        "source": source,
        "dmo": "bench-dmo",
        "description": "Synthetic messy listings feed of the ingest benchmark (benchmarks/)",
        "fetcher": "json_api",
        "url": url,
        "records": RECORDS_KEY,
        "id": "id",
        "pagination": {"type": "next_link", "path": NEXT_KEY},
        "defaults": {"language": "de", "country": "CH", "phone_region": "CH"},
        "licence": {"name": "CC-BY-4.0", "attribution": "Benchmark DMO (synthetic data)"},
        "scrape_frequency": "daily",
        "fields": fields,
    }


def mapping_yaml(url: str, source: str = SOURCE) -> str:
    """:func:`mapping` as YAML text, ready to be written to ``<source>.yaml``."""
    header = "# Written by benchmarks/ingest.py for one benchmark run; safe to delete.\n"
    return header + yaml.safe_dump(mapping(url, source), sort_keys=False, allow_unicode=True)
