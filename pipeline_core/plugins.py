"""The plugin manager: built-in plugins and those of the ``dmo_pipeline`` entry-point group.

:func:`get_plugin_manager` builds it (never at import time). Built-ins are listed in
:data:`BUILTIN_PLUGINS` and registered through the same hooks as third-party plugins;
any plugin can be blocked by name with ``PIPELINE_DISABLE_PLUGINS``. A plugin that fails
to import, or implements a hook that does not exist, is an error naming the plugin.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import orjson
import pluggy

from pipeline_core import hookspecs
from pipeline_core.config import Settings, load_settings
from pipeline_core.exceptions import MappingError, PluginError
from pipeline_core.mapping.compiler import CompiledMapping
from pipeline_core.mapping.document import MappingDocument
from pipeline_core.mapping.fetcher_check import check_against_fetcher, check_source_document
from pipeline_core.sources import BrokenSource, Source, SourceRegistry, collect_sources
from pipeline_core.transforms import Transform, build_registry

if TYPE_CHECKING:
    from pipeline_core.jobtypes import JobType

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dmo_pipeline"

#: Built-in plugins: name → module. Listed in one place; each can be blocked by name.
BUILTIN_PLUGINS: dict[str, str] = {
    "builtin-transforms": "pipeline_core.builtin.transforms",
    "builtin-json-api": "pipeline_core.builtin.json_api",
    "builtin-xml-feed": "pipeline_core.builtin.xml_feed",
    "builtin-csv-feed": "pipeline_core.builtin.csv_feed",
    "builtin-html": "pipeline_core.builtin.html",
    "builtin-jsonld": "pipeline_core.builtin.jsonld",
    "builtin-repo-sources": "pipeline_core.builtin.repo_sources",
    "builtin-config-sources": "pipeline_core.builtin.config_sources",
    "builtin-phone": "pipeline_core.builtin.phone",
    "builtin-contact": "pipeline_core.builtin.contact",
    "builtin-geo": "pipeline_core.builtin.geo",
    "builtin-hours": "pipeline_core.builtin.hours",
    "builtin-language": "pipeline_core.builtin.language",
    "builtin-taxonomy": "pipeline_core.builtin.taxonomy",
    "builtin-address": "pipeline_core.builtin.address",
    "builtin-dates": "pipeline_core.builtin.dates",
    "builtin-template": "pipeline_core.builtin.template",
    "builtin-title-case": "pipeline_core.builtin.title_case",
    "builtin-pipeline-jobs": "pipeline_core.builtin.pipeline_jobs",
    "builtin-job-types": "pipeline_core.builtin.job_types",
    "builtin-upload": "pipeline_core.builtin.upload",
    "builtin-image-jobs": "pipeline_core.builtin.image_jobs",
    "builtin-promote-job": "pipeline_core.builtin.promote_job",
    "builtin-log-notifier": "pipeline_core.builtin.log_notifier",
    "builtin-webhook-notifier": "pipeline_core.builtin.webhook_notifier",
}


@dataclass(frozen=True)
class PluginInfo:
    """What ``dmo-pipeline plugins`` shows of one registered plugin."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


class PipelineManager(pluggy.PluginManager):
    """pluggy's manager plus typed accessors for what the hooks register."""

    settings: Settings
    infos: dict[str, PluginInfo]

    def sources(self) -> SourceRegistry:
        """Every registered source, by name, each checked against the fetcher it names.

        A mapping file or stored configuration that is not valid (bad YAML, a schema error,
        an unknown option, a literal secret in a header, a file URL outside its folder) is
        logged and left out, with its error, in :attr:`SourceRegistry.broken`: one broken
        source must not block every other. Asking for it by name
        (:func:`~pipeline_core.sources.get_source`) raises its error.
        """
        found = collect_sources(self.hook.register_sources(settings=self.settings))
        fetchers = self.fetchers()
        checked = SourceRegistry(broken=found.broken)
        for name, source in found.items():
            try:
                check_source_document(source.mapping, self.settings)
                fetcher = fetchers.get(source.fetcher) if source.spider_cls is None else None
                if fetcher is not None:
                    check_against_fetcher(source.mapping, fetcher)
            except MappingError as exc:
                kind = (
                    "mapping file"
                    if source.mapping.base_dir is not None
                    else "stored configuration"
                )
                logger.error("%s left out: %s", kind, exc)
                checked.broken.setdefault(name, BrokenSource(name, source.origin, str(exc)))
                continue
            checked[name] = source
        return checked

    def transforms(self) -> dict[str, Transform]:
        """Every registered transform, by name."""
        return build_registry(self.hook.register_transforms())

    def fetchers(self) -> dict[str, type]:
        """Every registered fetcher spider class, by ``fetcher_name``."""
        found: dict[str, type] = {}
        for group in self.hook.register_fetchers():
            for cls in group:
                name = getattr(cls, "fetcher_name", None)
                if not name:
                    raise PluginError(f"fetcher {cls!r} has no fetcher_name")
                if name in found:
                    raise PluginError(
                        f"fetcher {name!r} is registered twice: {found[name].__module__} "
                        f"and {cls.__module__}"
                    )
                found[name] = cls
        return found

    def effective_mapping(self, source: Source) -> MappingDocument:
        """A source's mapping document with its fetcher's default mapping under it (the
        ``jsonld`` fetcher's ``key``, for example): what a crawl and a transform job map
        with. A source of its own spider gets no fetcher defaults."""
        fetcher = self.fetchers().get(source.fetcher) if source.spider_cls is None else None
        return source.mapping.with_defaults(getattr(fetcher, "default_mapping", None) or {})

    def compiled_mapping(
        self, source: Source, transforms: dict[str, Transform] | None = None
    ) -> CompiledMapping:
        """The compiled :meth:`effective_mapping` of a source; every driver (``crawl``, the
        ``transform`` job, preview) compiles through here, so they map alike."""
        return CompiledMapping(
            self.effective_mapping(source),
            self.transforms() if transforms is None else transforms,
        )

    def mapping_fingerprint(self, source: Source) -> bytes:
        """Digest of a source's mapping document and of every loaded plugin's version: when
        either changes, raw hashes change, so records are mapped again."""
        versions = ";".join(f"{i.name}={i.version}" for i in self.infos.values())
        doc = orjson.dumps(source.mapping.doc, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(doc + versions.encode()).digest()

    def job_types(self) -> dict[str, JobType]:
        """Every registered job type, by name."""
        found: dict[str, JobType] = {}
        for group in self.hook.register_job_types():
            for job_type in group:
                if job_type.name in found:
                    raise PluginError(f"job type {job_type.name!r} is registered twice")
                found[job_type.name] = job_type
        return found


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    return tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or []))


def get_plugin_manager(settings: Settings | None = None) -> PipelineManager:
    """Build the plugin manager: hookspecs, built-ins, then installed plugins, checked."""
    settings = settings or load_settings()
    pm = PipelineManager(hookspecs.PROJECT)
    pm.settings = settings
    pm.infos = {}
    pm.add_hookspecs(hookspecs)
    blocked = set(settings.disable_plugins)
    for name in blocked:
        pm.set_blocked(name)

    for name, module_name in BUILTIN_PLUGINS.items():
        if name in blocked:
            logger.info("plugin %s is disabled by PIPELINE_DISABLE_PLUGINS", name)
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=name)
        pm.infos[name] = PluginInfo(name, module_name, "dmo-pipeline", _own_version(), ())

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        if ep.name in blocked:
            logger.info("plugin %s (%s) is disabled by PIPELINE_DISABLE_PLUGINS", ep.name, dist)
            continue
        if ep.name in pm.infos:
            raise PluginError(
                f"plugin name {ep.name!r} of distribution {dist} is already taken by "
                f"{pm.infos[ep.name].module}; rename its entry point"
            )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}, distribution {dist}) failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        pm.register(plugin, name=ep.name)
        pm.infos[ep.name] = PluginInfo(ep.name, ep.value, dist, version, ())

    known = set(BUILTIN_PLUGINS) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in sorted(blocked - known):
        logger.warning("PIPELINE_DISABLE_PLUGINS names %r, which is no installed plugin", name)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        info = pm.infos.get(name)
        where = f" ({info.module}, distribution {info.distribution})" if info else ""
        unknown = str(exc).split(" in plugin ", 1)[0]
        raise PluginError(
            f"plugin {name!r}{where} implements a hook that does not exist: {unknown}; "
            "see docs/reference/hooks.md for the hook names"
        ) from None
    for name, info in list(pm.infos.items()):
        plugin = pm.get_plugin(name)
        pm.infos[name] = PluginInfo(
            info.name, info.module, info.distribution, info.version, _hooks_of(pm, plugin)
        )
    return pm


def _own_version() -> str:
    from pipeline_core import __version__

    return __version__
