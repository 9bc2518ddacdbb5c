"""Scrapy's start-up and shut-down dumps (overridden settings, enabled components, the stats
dump, the telnet console) are logged at DEBUG, not INFO: in a worker they were most of the
lines. ``LOG_LEVEL=DEBUG`` shows them again."""

from __future__ import annotations

import logging

#: Loggers whose dumps are demoted, and the start of each message demoted.
DUMPS: dict[str, tuple[str, ...]] = {
    "scrapy.crawler": ("Overridden settings", "Enabled addons"),
    "scrapy.middleware": ("Enabled ",),
    "scrapy.statscollectors": ("Dumping Scrapy stats",),
    "scrapy.extensions.telnet": ("Telnet console listening", "Telnet Password"),
    "scrapy.utils.log": ("Scrapy %(version)s started", "Versions:", "Scrapy "),
    "scrapy.addons": ("Enabled addons",),
}


class DemoteDumps(logging.Filter):
    """Turns a dump's record into a DEBUG one (handlers at INFO then drop it)."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_scrapy_dumps() -> None:
    """Install the filters (once per process)."""
    for name, prefixes in DUMPS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteDumps) for f in logger.filters):
            logger.addFilter(DemoteDumps(prefixes))
