"""What a Scrapy process needs of dmo-pipeline, built once per process on first use.

Nothing is built at import time: :func:`get_runtime` makes the settings, plugin manager,
source registry, transform registry and database engine the first time it is called.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa

from pipeline_core.config import Settings, load_settings
from pipeline_core.db import make_engine
from pipeline_core.db.ensure import ensure_schema
from pipeline_core.escaping import install_log_escaping
from pipeline_core.mapping import CompiledMapping
from pipeline_core.plugins import PipelineManager, get_plugin_manager
from pipeline_core.project import mapping_folders, project_root
from pipeline_core.sources import Source, SourceRegistry, get_source
from pipeline_core.transforms import Transform


@dataclass
class Runtime:
    """Settings, plugins and registries of this process."""

    settings: Settings
    pm: PipelineManager
    _compiled: dict[str, CompiledMapping] = field(default_factory=dict)
    _database_checked: bool = False

    @cached_property
    def sources(self) -> SourceRegistry:
        return self.pm.sources()

    @cached_property
    def transforms(self) -> dict[str, Transform]:
        return self.pm.transforms()

    @cached_property
    def fetchers(self) -> dict[str, type]:
        return self.pm.fetchers()

    @cached_property
    def engine(self) -> sa.Engine:
        return make_engine(self.settings.database_url)

    def ensure_database(self) -> None:
        """Make sure the schema is current: the embedded SQLite database is migrated on the
        spot; a PostgreSQL database behind the code is an error asking for
        ``dmo-pipeline migrate``."""
        if self._database_checked:
            return
        ensure_schema(self.engine)
        self._database_checked = True

    def source(self, name: str) -> Source:
        return get_source(self.sources, name, mapping_folders(self.settings))

    def mapping_fingerprint(self, name: str) -> bytes:
        """Digest of a source's mapping and the plugin versions (see
        :meth:`PipelineManager.mapping_fingerprint`)."""
        return self.pm.mapping_fingerprint(self.source(name))

    def compiled(self, name: str) -> CompiledMapping:
        """The compiled mapping of a source (compiled once)."""
        if name not in self._compiled:
            self._compiled[name] = self.pm.compiled_mapping(self.source(name), self.transforms)
        return self._compiled[name]


_runtime: Runtime | None = None


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The process's runtime, built on first call."""
    global _runtime
    if _runtime is None:
        install_log_escaping()
        root = project_root()
        if root is not None and str(root) not in sys.path:
            sys.path.insert(0, str(root))  # in-repo spiders/ import as `spiders`
        settings = settings or load_settings()
        _runtime = Runtime(settings, get_plugin_manager(settings))
    return _runtime


def reset_runtime() -> None:
    """Forget the runtime (tests that change the environment)."""
    global _runtime
    _runtime = None
