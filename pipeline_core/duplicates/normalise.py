"""Normalised forms of what two listings of one place share: name, phone, website, street.

Names lose case, accents, punctuation, articles and category words in the DMO's languages
(``The Old Harbour Hotel`` and ``Hôtel du Vieux Port`` keep ``old harbour`` and ``vieux
port``); phones become E.164 with ``phonenumbers``; websites their host and path.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers

#: Words that say what a listing is, not which one: left out of names before comparing.
ARTICLES = frozenset(
    "the a an of and at on in by "  # en
    "le la les l un une des du de d et au aux "  # fr
    "der die das des dem den ein eine und am im zum zur von "  # de
    "el los las lo del y al en "  # es
    "il lo gli i uno una di da e della delle degli "  # it
    "an na agus "  # ga
    "het een en van "  # nl
    "o os as do da dos das e".split()  # pt
)
CATEGORY_WORDS = frozenset(
    "hotel hotels hostel inn guesthouse guest house lodge b&b bnb bed breakfast apartments "
    "restaurant restaurante ristorante cafe bar pub bistro brasserie trattoria osteria "
    "gasthof gasthaus pension wirtshaus taverne tavern "
    "museum musee museo museu museo galerie gallery galleria "
    "church eglise kirche iglesia chiesa cathedral cathedrale dom catedral cattedrale "
    "castle chateau schloss burg castillo castello park parc parque garden gardens jardin "
    "garten giardino shop boutique store laden tienda negozio".split()
)
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents (``Ó Briain`` → ``o briain``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_key(text: str) -> str:
    """A name with articles and category words left out, its words in order; the folded
    name itself when nothing else is left (a listing called ``The Museum``)."""
    folded = fold(text).replace("b&b", "bnb").replace("&", " and ").replace("'", "")
    words = _WORD.findall(folded)
    kept = [w for w in words if w not in ARTICLES and w not in CATEGORY_WORDS]
    return " ".join(kept or words)


def phone_key(text: str | None, region: str | None) -> str | None:
    """E.164 form of a phone number (``+353 91 555 0100``, ``091-5550100`` → ``+353915550100``
    in Ireland), or its digits when it cannot be parsed."""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", text)
        return digits or None


def website_key(url: str | None) -> str | None:
    """Host (without ``www.``) and path (without a trailing slash) of a website."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else "https://" + url)
    host = (parts.hostname or "").removeprefix("www.")
    return (host + parts.path.rstrip("/")).lower() or None


_STREET_WORDS = {
    "st": "street",
    "str": "strasse",
    "rd": "road",
    "ave": "avenue",
    "sq": "square",
    "pl": "place",
    "strasse": "strasse",
}


def street_key(street: str | None) -> str | None:
    """A street address folded, with common abbreviations spelled out."""
    if not street:
        return None
    words = _WORD.findall(fold(street).replace("ß", "ss"))
    return " ".join(_STREET_WORDS.get(w, w) for w in words) or None
