"""dmo-pipeline: scraping and ingestion of tourism listings published by DMOs."""

from __future__ import annotations

__version__ = "0.1.0"
