"""Attributes an expert keeps: the star classification of lodgings (``4*``, ``Hotels 4
estr.``, ``Alberghi 3 stelle``)."""

from __future__ import annotations

import re

from pipeline_core.drafting.lexicon import fold
from pipeline_core.drafting.plan import Base, pct
from pipeline_core.drafting.values import share

#: A star rating: a figure and a word or sign for stars, in the feeds' languages.
_STARS = re.compile(
    r"(?<!\d)[1-7]\s*(?:\*|★|stars?\b|sterne?\b|stelle\b|estrellas?\b|estr\b|estrelles?\b"
    r"|etoiles?\b|sterren\b|estrelas?\b)|^\s*[*★]{1,7}\s*(?:sup\w*)?\s*$",
)
#: Share of the values that must be star ratings (the rest: B&B, campsites, unrated).
_SHARE = 0.25


class RatingRules(Base):
    """The star classification of the listings, kept as published."""

    def classification(self) -> None:
        """``attributes.classification``: a column of few distinct values, a quarter or more
        of them star ratings (a column the category is mapped from counts too)."""
        if self.plan.has("attributes.classification"):
            return
        n = self.columns.count
        by_category = {path for p in self.plan.fields if p.target == "category" for path in p.paths}
        for column in self.columns.ordered():
            if column.is_list_of_objects or (
                column.path in self.used and column.path not in by_category
            ):
                continue
            present = column.present
            if not present or any(isinstance(v, dict | list) for v in present):
                continue
            texts = column.texts()
            if column.fill < 0.3 or len(set(texts)) > max(30, n // 5):
                continue
            rated = share(texts, lambda t: bool(_STARS.search(fold(t))))
            if rated < _SHARE:
                continue
            self.plan.add(
                "attributes.classification",
                {"from": column.path, "transform": "text"},
                f"{pct(rated)} of the values of {column.path} are star ratings",
                [column.path],
            )
            self.use(column.path)
            return
