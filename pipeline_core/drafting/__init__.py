"""Draft a mapping from the feed itself (``dmo-pipeline new-source NAME --from URL``).

:func:`draft_source` fetches the first page of a source under the URL policy
(:mod:`~pipeline_core.drafting.sample`), reads its records the way the fetcher will,
recognises fields by key names and values (:mod:`~pipeline_core.drafting.recognise`),
writes the mapping with a reason beside every line (:mod:`~pipeline_core.drafting.compose`),
then loads, compiles and previews the draft on the sample
(:mod:`~pipeline_core.drafting.check`). Deterministic: the same sample gives the same
text, byte for byte; nothing but the source is fetched.
"""

from __future__ import annotations

from pipeline_core.drafting.check import Draft, draft_source
from pipeline_core.drafting.sample import FORMATS, DraftError

__all__ = ["FORMATS", "Draft", "DraftError", "draft_source"]
