"""Which source path feeds which canonical field, decided by key names and values.

Every decision is a :class:`Proposal` with the reason the draft prints beside it. The
values decide: a key named ``telefono`` whose values do not read as phones is not the
phone; an unnamed column whose values read as phones in the region is. What cannot be
decided (two candidate ids, no coordinates, an unknown category) is said in
:attr:`Plan.undecided`.
"""

from __future__ import annotations

from pipeline_core.drafting.columns import Columns
from pipeline_core.drafting.contacts import ContactRules
from pipeline_core.drafting.kinds import KindRules
from pipeline_core.drafting.places import PlaceRules
from pipeline_core.drafting.plan import Plan
from pipeline_core.drafting.ratings import RatingRules
from pipeline_core.drafting.texts import TextRules


class Recogniser(PlaceRules, ContactRules, TextRules, KindRules, RatingRules):
    """Decides a :class:`~pipeline_core.drafting.plan.Plan` for a sample's columns."""

    def run(self) -> Plan:
        """Decide every field, in the order that lets later decisions use earlier ones."""
        self.coordinates()
        self.identity()
        self.i18n_texts()
        self.contact_phone()
        self.country_from_phones()
        self.contact_email()
        self.links_and_images()
        self.address()
        self.hours()
        self.texts()
        if self._key_later:
            self._derived_key()
        self.category()
        self.classification()
        self.language_default()
        if self.fmt == "jsonld":
            self.jsonld_overrides()
        self.leftovers()
        return self.plan


def recognise(columns: Columns, fmt: str, name: str) -> Plan:
    """The :class:`Plan` for a sample's columns."""
    return Recogniser(columns, fmt, name).run()
