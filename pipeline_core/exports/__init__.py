"""Exports of production listings (JSON Lines or CSV), streamed, optionally anonymised.
See ``docs/reference/exports.md``."""

from __future__ import annotations

from pipeline_core.exports.stream import CSV_COLUMNS, FORMATS, export_lines

__all__ = ["CSV_COLUMNS", "FORMATS", "export_lines"]
