"""Scrapy settings of dmo-pipeline (``scrapy.cfg``: ``default = pipeline_core.scrapy.settings``).

Every Scrapy setting can be overridden as usual (``-s NAME=VALUE``). dmo-pipeline's own
settings come from the environment (``dmo-pipeline settings`` lists them).
"""

from __future__ import annotations

import os

from scrapy.settings import default_settings as _scrapy_defaults

BOT_NAME = "dmo-pipeline"

SPIDER_LOADER_CLASS = "pipeline_core.scrapy.spiderloader.SourceSpiderLoader"
#: In-repo spiders of the checkout (left out when not importable).
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

#: The stages, in order. Set one to None to disable it, or renumber to reorder.
ITEM_PIPELINES = {
    "pipeline_core.scrapy.archive.ArchivePipeline": 50,
    "pipeline_core.scrapy.pipelines.MapPipeline": 100,
    "pipeline_core.scrapy.pipelines.HashPipeline": 200,
    "pipeline_core.scrapy.pipelines.ValidatePipeline": 300,
    "pipeline_core.scrapy.pipelines.StageWritePipeline": 400,
}

#: Scrapy's offsite filter is replaced by the sources' stricter one (a dropped request is
#: a page error); the URL policy checks every request that is sent.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "pipeline_core.scrapy.middlewares.SourceOffsiteMiddleware": 50,
    "pipeline_core.scrapy.middlewares.URLPolicyMiddleware": 55,
    "pipeline_core.scrapy.middlewares.RedirectCredentialsMiddleware": 60,
}

#: Scrapy's URL length filter is replaced by one that reports what it drops as a page
#: error of the source (the limit, URLLENGTH_LIMIT, is Scrapy's: 2083).
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "pipeline_core.scrapy.middlewares.SourceUrlLengthMiddleware": 800,
}

#: Name lookups check each answer against the URL policy again (DNS rebinding).
TWISTED_DNS_RESOLVER = "pipeline_core.scrapy.resolver.PolicyResolver"

#: Scrapy's own extensions but the remote control and the telnet console, which are off
#: (below): Scrapy imports every extension it lists, even one set to None in EXTENSIONS, and
#: these two import ``aiohttp`` and ``twisted.conch``, about 10 MB of every crawl's memory
#: (benchmarks/README.md, issue 16).
EXTENSIONS_BASE = {
    name: order
    for name, order in _scrapy_defaults.EXTENSIONS_BASE.items()
    if name
    not in (
        "scrapy.extensions.remote_control.RemoteControl",
        "scrapy.extensions.telnet.TelnetConsole",
    )
}

EXTENSIONS = {
    "pipeline_core.scrapy.progress.ProgressLog": 600,
    "pipeline_core.scrapy.worker_watch.WorkerWatch": 610,
}

#: Invalid records are reported by the stage session (source, record, field); Scrapy's own
#: "Dropped" line, which would repeat the whole item, is logged at DEBUG only.
LOG_FORMATTER = "pipeline_core.scrapy.logformatter.QuietDropLogFormatter"

#: Scrapy's check for generators that return a value re-reads the callback's source for
#: every response; the built-in fetchers return nothing, so it only costs time.
WARN_ON_GENERATOR_RETURN_VALUE = False

#: No remote-control endpoints: neither the HTTP remote control nor the telnet console.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
ROBOTSTXT_OBEY = False
USER_AGENT = "dmo-pipeline (+https://github.com/dmo-pipeline)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 60
#: A response larger than this (bytes, 256 MiB) is cancelled and becomes a page error, so
#: a runaway or hostile source cannot exhaust memory; Scrapy's own default is 1 GiB.
DOWNLOAD_MAXSIZE = 256 * 1024 * 1024
#: A response larger than this (bytes, 64 MiB) is logged with a warning.
DOWNLOAD_WARNSIZE = 64 * 1024 * 1024
RETRY_TIMES = 2
#: Responses whose items are still being processed, in bytes, before Scrapy takes no more
#: (Scrapy's default is 5 MB): the records of about a megabyte of pages wait for the map
#: processes at a time, which keeps them busy and the crawl's memory bounded.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1_000_000
PIPELINE_PROGRESS_INTERVAL = 10.0
#: Archive mode: write every raw record to this JSON Lines file instead of staging (the
#: ``scrape`` job sets it; unset, the archive pipeline is off).
PIPELINE_ARCHIVE_PATH = None
#: The worker whose ``scrape`` job runs this crawl: the crawl stops when that process dies
#: (the job sets it; unset, the watch is off).
PIPELINE_WORKER_PID = None
#: Skip records whose raw hash is staged before they become items (off with FEEDS set).
PIPELINE_EARLY_SKIP = True
#: Worker processes that map, hash and validate records off the crawl's thread, fed raw
#: records in batches (:mod:`pipeline_core.stages.map_processes`); 0: the crawl's thread
#: maps them itself.
PIPELINE_MAP_PROCESSES = 2
#: Records a crawl maps in its own thread before it starts the map processes: a small crawl
#: never starts them.
PIPELINE_MAP_PROCESSES_AFTER = 1000
FEED_EXPORT_ENCODING = "utf-8"
