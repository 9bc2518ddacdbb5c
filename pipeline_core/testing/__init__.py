"""Helpers for testing sources and plugins: a loopback feed server and paginated feeds."""

from __future__ import annotations

from pipeline_core.testing.server import FeedServer, paginate_json

__all__ = ["FeedServer", "paginate_json"]
