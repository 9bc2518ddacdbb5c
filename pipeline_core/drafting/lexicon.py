"""Key names DMOs publish, per canonical field, in the languages of their feeds.

A key matches a field when one of its words (split at ``_``, ``-``, ``:``, ``.``, spaces
and lower/upper case changes; folded to ASCII lower case) is in the field's word set, or
when the whole folded key is (``telefono``, ``openinghours``). Names are only the first
signal: every recogniser checks the values too (:mod:`pipeline_core.drafting.recognise`).
"""

from __future__ import annotations

import re
import unicodedata

#: Canonical target → words that name it (English, German, French, Spanish, Catalan,
#: Italian, Dutch, Portuguese).
WORDS: dict[str, frozenset[str]] = {
    "id": frozenset(
        "id ids identifier identifiant identificador identificativo uid uuid guid code codigo "
        "codice kennung nummer ref reference @id productid objectid pk trcid".split()
    ),
    "name": frozenset(
        "name names title titel titre titulo title nom nombre nome naam denominazione "
        "denominacion bezeichnung benennung label designation headline shortname "
        "rdfs:label nombrecomercial betrieb betriebsname".split()
    ),
    "description": frozenset(
        "description descriptions descripcion descripcio descrizione beschreibung omschrijving "
        "beschrijving text texte texto testo body content summary basetext comment "
        "rdfs:comment resumen abstract".split()
    ),
    "latitude": frozenset("lat latitude latitud latitudine breitengrad breite y geo:lat".split()),
    "longitude": frozenset(
        "lon lng long longitude longitud longitudine langengrad lange x geo:long".split()
    ),
    "point": frozenset("point coordinates coordenadas coordonnees koordinaten gps geo".split()),
    "phone": frozenset(
        "phone phones telephone tel telefon telefono telefone telefoon telephonenumber "
        "phonenumber tlf tfno movil mobile handy gsm cellulare phone1 phone2 phone3 "
        "telefono1 telefono2".split()
    ),
    "email": frozenset("email mail e-mail correo courriel posta emailaddress".split()),
    "website": frozenset(
        "web website webpage homepage site sitio sitoweb internet url urls www webseite "
        "siteweb paginaweb weblink".split()
    ),
    "street": frozenset(
        "street strasse straat calle rue via address adresse direccion adreca indirizzo "
        "adres adress streetaddress addressline domicilio carrer road roadname".split()
    ),
    "street_type": frozenset(
        "clasevial tipovia tipovial tipodevia roadtype roadtypename streettype strassentyp "
        "tipusvia".split()
    ),
    "number": frozenset(
        "number housenumber huisnummer hausnummer numero num nr civico numerocivico ".split()
    ),
    "postal_code": frozenset(
        "zip zipcode postal postalcode postcode plz cp cap codigopostal codepostal "
        "postleitzahl postnummer codpostal".split()
    ),
    "locality": frozenset(
        "city town locality ort stadt gemeinde ville commune ciudad municipio localidad "
        "poblacion comune citta gemeente plaats woonplaats municipality cityname "
        "addresslocality".split()
    ),
    "region": frozenset(
        "region county province provincia provincie bundesland departement "
        "comarca regione district addressregion canton kanton administrativearea "
        "subadministrativearea".split()
    ),
    "country": frozenset("country land pais pays paese staat addresscountry".split()),
    "hours": frozenset(
        "hours horario horarios oeffnungszeiten offnungszeiten openingszeiten horaires "
        "orario orari openingstijden openinghours opening schedule".split()
    ),
    "category": frozenset(
        "category categories categoria categorias kategorie kategorien categorie type types "
        "tipo tipologia typ soort genre discriminator producttype @type kind class "
        "classification topic topics".split()
    ),
    "image": frozenset(
        "image images img photo photos picture pictures imagen imagenes foto fotos bild "
        "bilder immagine afbeelding gallery imagegallery media".split()
    ),
}

#: Words that end an id-like key: ``business_product_id``, ``PoiId``.
ID_SUFFIXES = ("id", "code", "uid", "uuid")

_SPLIT = re.compile(r"[\s_\-.:/]+|(?<=[a-z])(?=[A-Z])")


def fold(text: str) -> str:
    """``Öffnungszeiten`` → ``offnungszeiten``: ASCII lower case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(key: str) -> list[str]:
    """The folded words of a key: ``AddressLocality`` → ``[address, locality]``."""
    return [fold(w) for w in _SPLIT.split(key) if w]


def key_of(path: str) -> str:
    """The last named segment of a path: ``ContactInfos.de.Phonenumber`` → ``Phonenumber``;
    an XML attribute or text is named by its element (``link.@href`` → ``link``)."""
    parts = [p for p in path.split(".") if not p.isdigit()]
    while len(parts) > 1 and (parts[-1].startswith("#") or parts[-1].startswith("@")):
        parts.pop()
    return parts[-1] if parts else path


def names(path: str, target: str) -> bool:
    """True when the last key of ``path`` names ``target`` (a key of :data:`WORDS`)."""
    key = key_of(path)
    wanted = WORDS[target]
    whole = fold(key)
    if whole in wanted or whole.replace("_", "").replace("-", "") in wanted:
        return True
    return any(w in wanted for w in words(key))


def names_exactly(path: str, target: str) -> bool:
    """True when the whole last key of ``path`` (folded) is one of ``target``'s words."""
    whole = fold(key_of(path))
    return whole in WORDS[target] or whole.replace("_", "").replace("-", "") in WORDS[target]


def id_like(path: str) -> bool:
    """True for keys that say they hold an identifier: ``id``, ``Id``, ``poi_id``, ``@id``."""
    key = key_of(path)
    if names_exactly(path, "id"):
        return True
    parts = words(key)
    # ``poi_id``, ``productCode``; and the Romance order: ``Id struttura``, ``id_comercio``
    return bool(parts) and (parts[-1] in ID_SUFFIXES or (len(parts) > 1 and parts[0] == "id"))
