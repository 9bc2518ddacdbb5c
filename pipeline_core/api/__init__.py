"""The HTTP API (Starlette): ``create_app`` builds it; ``dmo-pipeline serve`` runs it."""

from __future__ import annotations

from pipeline_core.api.app import create_app

__all__ = ["create_app"]
