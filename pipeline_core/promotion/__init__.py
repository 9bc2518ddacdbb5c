"""Promotion: staging → production in one transaction, as numbered, reversible batches.

:func:`promote` and :func:`rollback` are the service functions behind the ``promote`` job
type, ``dmo-pipeline promote`` and the API; see ``docs/reference/promotion.md``.
"""

from __future__ import annotations

from pipeline_core.promotion.service import PromotionReport, promote, rollback

__all__ = ["PromotionReport", "promote", "rollback"]
