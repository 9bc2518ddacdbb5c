"""How log lines are written (``PIPELINE_LOG_FORMAT``): ``text``, one readable line, or
``json``, one JSON object per line with ``time``, ``level``, ``logger``, ``message``,
``process`` and the fields of :mod:`pipeline_core.log_context` (correlation id, job id,
attempt, job type, source, DMO); an exception adds ``exception``. JSON lines mask secrets
(:func:`pipeline_core.masking.mask_text`) in the message and the exception."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline_core.log_context import FIELDS, current_fields
from pipeline_core.masking import mask_text

#: The text format: time, process, level, logger, the job's tag, message.
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(job_tag)s%(message)s"


class JobTagFilter(logging.Filter):
    """Sets ``record.job_tag`` for the text format's ``%(job_tag)s``: ``job ID (correlation
    C): `` while a job runs, else empty."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_fields()
        job_id = fields.get("job_id")
        record.job_tag = (
            f"job {job_id} (correlation {fields.get('correlation_id') or '-'}): "
            if job_id is not None
            else ""
        )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
            "process": record.process,
        }
        fields = getattr(record, "log_fields", None) or current_fields()
        for name in FIELDS:
            if fields.get(name) is not None:
                line[name] = fields[name]
        relayed = getattr(record, "relayed_from", None)
        if relayed is not None:
            line["relayed_by"] = relayed
        if record.exc_info:
            line["exception"] = mask_text(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = mask_text(record.exc_text)
        return orjson.dumps(line, default=str).decode()


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``PIPELINE_LOG_FORMAT``."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` (``LOG_LEVEL``, any case) in ``log_format``: the worker's,
    scheduler's, relay's and API's processes. A line logged while a job runs names the job
    and its correlation id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobTagFilter())
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def relay_json_line(line: str) -> bool:
    """Log a child process's JSON log line (a crawl's, in the JSON format) as the record it
    was, under its own logger, level and process id, with ``relayed_by`` this process: so a
    worker's log holds its crawls' lines as they were, not wrapped in another line. False
    when ``line`` is not such a line (then the caller logs it as text)."""
    if not line.startswith("{"):
        return False
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(data, dict) or not {"logger", "level", "message"} <= data.keys():
        return False
    name = str(data["logger"])
    level = logging.getLevelName(str(data["level"]).upper())
    level = level if isinstance(level, int) else logging.INFO
    target = logging.getLogger(name)
    if not target.isEnabledFor(level):
        return True
    record = target.makeRecord(name, level, "(crawl)", 0, str(data["message"]), (), None)
    record.process = data.get("process") or record.process
    record.log_fields = {k: data[k] for k in FIELDS if data.get(k) is not None} or None
    record.relayed_from = os.getpid()
    target.handle(record)
    return True
