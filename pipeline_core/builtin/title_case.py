"""The ``title`` transform: names in title case that know their language's small words.

``MUSEO DEL PRADO`` becomes ``Museo del Prado``, ``château de la loire`` becomes
``Château de la Loire``, ``l'aquàrium de barcelona`` becomes ``L'Aquàrium de Barcelona``.
The first word is always capitalised; hyphenated parts each are; Roman numerals stay upper
case; a word written in mixed case (``McDonald``) and, in text not all in capitals, an
acronym (``BBC``) stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform, TransformContext

#: Words written in lower case inside a title, per language (ISO 639-1).
SMALL_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "a an the and but or nor for of on in at to by with from as per via vs".split()
    ),
    "es": frozenset(
        "a al con de del desde e el en entre hacia la las lo los o para por sin sobre u y".split()
    ),
    "ca": frozenset("a al als amb de del dels el els en i la les o per pel pels sobre".split()),
    "pt": frozenset(
        "a ao aos as com da das de do dos e em na nas no nos o os ou para pela pelo por sem".split()
    ),
    "de": frozenset(
        "am an auf aus bei der den der des die dem das im in mit oder und vom von zu zum "
        "zur für über".split()
    ),
    "fr": frozenset(
        "à au aux avec d de des du en et la le les ou par pour sous sur un une".split()
    ),
    "it": frozenset(
        "a ai al alla alle agli con d da dal dalla dei del della delle degli di e ed "
        "gli i il in la le lo nel nella nei o per su sul sulla tra fra".split()
    ),
    "nl": frozenset(
        "aan bij de den der des en een het in met of op te ten ter tot van voor".split()
    ),
}
#: Articles: in lower case after a small word (``Museo de la Ciudad``), but capitalised
#: after a name, where they begin one (``Hotel Los Olivos``, ``Café De Jaren``).
_ARTICLES: dict[str, frozenset[str]] = {
    "es": frozenset("el la los las".split()),
    "ca": frozenset("el la els les".split()),
    "pt": frozenset("o a os as".split()),
    "fr": frozenset("le la les".split()),
    "it": frozenset("il lo la i gli le".split()),
    "nl": frozenset("de het".split()),
}
#: Elided articles and prepositions (``d'``, ``l'``, ``dell'``) per language.
_ELISIONS: dict[str, frozenset[str]] = {
    "fr": frozenset(["d", "l", "qu", "j", "s"]),
    "it": frozenset(["d", "l", "dell", "all", "nell", "dall", "sull", "un"]),
    "ca": frozenset(["d", "l", "s", "n"]),
    "en": frozenset(["o"]),  # O'Brien: capitalised on both sides
}
_WORD = re.compile(r"\S+")
#: Roman numerals up to XXXIX, the ones names carry (kings, popes, centuries).
_ROMAN = re.compile(r"^(?=[IVX])X{0,3}(IX|IV|V?I{0,3})$")
_APOSTROPHES = "'\u2019"


def _cap(word: str) -> str:
    for i, char in enumerate(word):  # "(museo" → "(Museo"
        if char.isalpha():
            return word[:i] + char.upper() + word[i + 1 :].lower()
    return word


def _core(word: str) -> str:
    return word.strip('()[]"«»“”,.;:!?').lower()


def _one(word: str, first: bool, language: str, shouting: bool, after: str = "") -> str:
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return word
    bare = word.strip('()[]"«»“”,.;:!?')
    if bare.isupper() and _ROMAN.match(bare) and not (bare == "I" and language == "ca"):
        return word  # Carlos III (in Catalan, a lone "I" is "and")
    if not shouting:
        rest = "".join(letters[1:])
        if any(c.isupper() for c in rest) and any(c.islower() for c in rest):
            return word  # McDonald, iPhone
        if len(letters) > 1 and word.isupper():
            return word  # BBC, in a text that is not all capitals
    if "-" in word.strip("-"):
        return "-".join(
            _one(p, first and i == 0, language, shouting) for i, p in enumerate(word.split("-"))
        )
    for mark in _APOSTROPHES:
        head, sep, tail = word.partition(mark)
        if sep and tail and head.lower() in _ELISIONS.get(language, ()):
            if language == "en":
                return _cap(head) + sep + _cap(tail)
            head = _cap(head) if first else head.lower()
            return head + sep + _cap(tail)
    core = _core(word)
    if not first and core in SMALL_WORDS[language]:
        if core not in _ARTICLES.get(language, ()) or _core(after) in SMALL_WORDS[language]:
            return word.lower()
    return _cap(word)


def title(value: Any, context: TransformContext | None = None, language: str | None = None) -> str:
    """Title case that keeps the small words of ``language`` (else the source's
    ``defaults.language``; en, es, ca, pt, de, fr, it, nl) in lower case: ``MUSEO DEL
    PRADO`` → ``Museo del Prado``."""
    chosen = language or (context.defaults.get("language") if context else None) or "en"
    chosen = str(chosen).lower().split("-")[0]
    if chosen not in SMALL_WORDS:
        raise ValueError(
            f"no small words for language {chosen!r} (known: {', '.join(SMALL_WORDS)})"
        )
    text = " ".join(str(value).split())
    shouting = not any(c.islower() for c in text)
    words = _WORD.findall(text)
    return " ".join(
        _one(w, i == 0, chosen, shouting, words[i - 1] if i else "") for i, w in enumerate(words)
    )


@hookimpl
def register_transforms() -> list[Transform]:
    """The ``title`` transform."""
    return [Transform("title", title, title.__doc__ or "", cacheable=True)]
