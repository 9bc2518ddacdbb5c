"""Benchmarks of dmo-pipeline. ``python -m benchmarks.ingest`` measures crawl throughput."""

from __future__ import annotations
