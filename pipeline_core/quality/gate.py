"""The quality minimum that keeps listings out of promotion: per source, per DMO, or one
for all (``PIPELINE_QUALITY_MINIMUM`` and a mapping's ``quality_minimum``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline_core.config import parse_quality_minimums
from pipeline_core.db.tables import listing_quality, sources
from pipeline_core.quality.rules import score_record, seen_at
from pipeline_core.quality.store import image_states

if TYPE_CHECKING:
    from pipeline_core.config import Settings
    from pipeline_core.sources import Source


@dataclass(frozen=True)
class QualityPolicy:
    """Minimum scores: a source's own (its mapping's ``quality_minimum``) wins over its
    DMO's, which wins over the default; 0 lets everything through."""

    default: int = 0
    per_dmo: Mapping[str, int] = field(default_factory=dict)
    per_source: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Settings, sources: Mapping[str, Source] | None = None
    ) -> QualityPolicy:
        """The policy of ``PIPELINE_QUALITY_MINIMUM`` and the sources' mappings."""
        default, per_dmo = parse_quality_minimums(settings.raw.get("PIPELINE_QUALITY_MINIMUM", ""))
        per_source = {
            name: int(source.mapping.doc["quality_minimum"])
            for name, source in (sources or {}).items()
            if "quality_minimum" in source.mapping.doc
        }
        return cls(default, per_dmo, per_source)

    def minimum(self, dmo: str, source: str) -> tuple[int, str]:
        """The minimum for a listing and where it comes from."""
        if source in self.per_source:
            return self.per_source[source], f"source {source}"
        if dmo in self.per_dmo:
            return self.per_dmo[dmo], f"DMO {dmo}"
        return self.default, "PIPELINE_QUALITY_MINIMUM"

    def scores(self, conn: sa.Connection, rows: Sequence[Any]) -> dict[int, tuple[int, Any]]:
        """Score and breakdown of each staging row that has a minimum to meet: the stored
        score when it is for the row's current record hash, else computed now."""
        wanted = [r for r in rows if self.minimum(r.dmo, r.source)[0] > 0]
        if not wanted:
            return {}
        stored = {
            q.listing_id: q
            for q in conn.execute(
                sa.select(listing_quality).where(
                    listing_quality.c.listing_id.in_([r.id for r in wanted])
                )
            )
        }
        crawled = dict(
            conn.execute(
                sa.select(sources.c.name, sources.c.last_complete_crawl_at).where(
                    sources.c.name.in_(sorted({r.source for r in wanted}))
                )
            ).all()
        )
        out: dict[int, tuple[int, Any]] = {}
        unscored = [
            r.id for r in wanted if r.id not in stored or stored[r.id].record_hash != r.record_hash
        ]
        states = image_states(conn, unscored) if unscored else {}
        for row in wanted:
            known = stored.get(row.id)
            if known is not None and known.record_hash == row.record_hash:
                out[row.id] = (known.score, known.breakdown)
            else:
                seen = seen_at(row.updated_at, crawled.get(row.source))
                out[row.id] = score_record(row.record, seen, images=states[row.id])
        return out

    def refusal(self, row: Any, scored: tuple[int, Any] | None) -> str | None:
        """Why ``row`` stays out of production, or None when it may go."""
        minimum, origin = self.minimum(row.dmo, row.source)
        if minimum <= 0 or scored is None:
            return None
        score, breakdown = scored
        if score >= minimum:
            return None
        lost = sorted(breakdown.items(), key=lambda item: item[1]["points"] - item[1]["weight"])[:3]
        worst = "; ".join(
            f"{name} {rule['points']:g}/{rule['weight']} ({rule['detail']})"
            for name, rule in lost
            if rule["points"] < rule["weight"]
        )
        return f"quality {score} is below the minimum {minimum} of {origin}: {worst}"
