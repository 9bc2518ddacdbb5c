"""What every request of one API process shares: settings, engine, plugins, limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from pipeline_core.config import Settings

if TYPE_CHECKING:
    from pipeline_core.api.event_hub import EventHub
    from pipeline_core.plugins import PipelineManager
    from pipeline_core.sources import Source


@dataclass
class ApiState:
    """Shared by the requests of one app."""

    settings: Settings
    engine: sa.Engine
    _pm: PipelineManager | None = None
    _static: dict[str, Source] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )
    #: Last time each key's ``last_used_at`` was written (at most once a minute).
    key_seen: dict[int, float] = field(default_factory=dict)
    #: Engines of DMO-scoped keys on PostgreSQL (row-level security), one per DMO.
    _tenants: dict[str, sa.Engine] = field(default_factory=dict)
    _hub: EventHub | None = None

    def data_engine(self, dmo: str | None) -> sa.Engine:
        """The engine to read staging and production with for a key of ``dmo``: on
        PostgreSQL a DMO's own :func:`~pipeline_core.db.tenant.tenant_engine` (row-level
        security filters its rows in the database too), else the app's engine."""
        if dmo is None or self.engine.dialect.name != "postgresql":
            return self.engine
        with self._lock:
            if dmo not in self._tenants:
                from pipeline_core.db.tenant import tenant_engine

                self._tenants[dmo] = tenant_engine(self.settings.database_url, dmo)
            return self._tenants[dmo]

    def event_hub(self) -> EventHub:
        """The app's :class:`~pipeline_core.api.event_hub.EventHub`, made on first use."""
        with self._lock:
            if self._hub is None:
                from pipeline_core.api.event_hub import EventHub

                self._hub = EventHub(self.engine, self.settings.poll_interval)
            return self._hub

    def close_events(self) -> None:
        """Stop the event hub's thread, if it started (the app shuts down)."""
        if self._hub is not None:
            self._hub.close()

    def dispose(self) -> None:
        """Stop the event hub and close the app's engines (its own and the DMOs')."""
        self.close_events()
        with self._lock:
            for engine in self._tenants.values():
                engine.dispose()
            self._tenants.clear()
        self.engine.dispose()

    def plugin_manager(self) -> PipelineManager:
        """The plugin manager, built once (sources of files and plugins change on restart)."""
        with self._lock:
            if self._pm is None:
                from pipeline_core.plugins import get_plugin_manager

                self._pm = get_plugin_manager(self.settings)
            return self._pm

    def static_sources(self) -> dict[str, Source]:
        """Sources of mapping files and plugins, read once (they change on restart)."""
        pm = self.plugin_manager()
        with self._lock:
            if self._static is None:
                self._static = {
                    name: source
                    for name, source in pm.sources().items()
                    if not source.origin.startswith("pipeline.configs[")
                }
            return self._static

    def sources(self) -> dict[str, Source]:
        """Every source now: files and plugins (as loaded) and stored configs (read afresh)."""
        from pipeline_core.operations.configs import stored_sources

        found = dict(self.static_sources())
        found.update(stored_sources(self.engine))
        return dict(sorted(found.items()))

    def rate_item(self) -> RateLimitItemPerSecond | None:
        """The per-key limit (``PIPELINE_API_RATE_LIMIT``), or None."""
        limit = self.settings.api_rate_limit
        if limit is None:
            return None
        count, period = limit
        return RateLimitItemPerSecond(count, int(period))
