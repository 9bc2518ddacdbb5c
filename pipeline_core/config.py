"""Settings: one table of every setting, with its default and help, read from the environment.

Each setting is a :class:`Setting` in :data:`SETTINGS`. :func:`load_settings` reads them from
``os.environ`` (or a mapping given in tests) and returns a frozen :class:`Settings`. A bad
value raises :class:`~pipeline_core.exceptions.ConfigError` naming the variable and what it
accepts. Secrets are masked by :meth:`Settings.masked`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from pipeline_core.exceptions import ConfigError

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS = ("text", "json")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("true or false (also 1/0, yes/no, on/off)")


def _positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("a whole number greater than 0") from None
    if value <= 0:
        raise ValueError("a whole number greater than 0")
    return value


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("a whole number, 0 or more") from None
    if value < 0:
        raise ValueError("a whole number, 0 or more")
    return value


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError("one of " + ", ".join(LOG_FORMATS))
    return value


def _optional_path(raw: str) -> str | None:
    value = raw.strip()
    return str(Path(value).expanduser().resolve()) if value else None


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError("one of " + ", ".join(LOG_LEVELS))
    return value


def _database_url(raw: str) -> str:
    value = raw.strip()
    scheme = value.split(":", 1)[0]
    if not value or "://" not in value:
        raise ValueError("a SQLAlchemy URL such as sqlite:///data/pipeline.db or postgresql://…")
    if scheme.startswith("postgres"):
        # One driver for PostgreSQL: psycopg 3.
        rest = value.split("://", 1)[1]
        return "postgresql+psycopg://" + rest
    if scheme.startswith("sqlite"):
        return value
    raise ValueError("a sqlite:/// or postgresql:// URL")


def _storage_url(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("a folder path, file:///folder or s3://bucket/prefix")
    if value.startswith("s3://"):
        if not urlsplit(value).netloc:
            raise ValueError("s3://bucket/prefix with a bucket name")
        return value
    if value.startswith("file://"):
        return value
    if "://" in value:
        raise ValueError("a folder path, file:///folder or s3://bucket/prefix")
    return Path(value).expanduser().resolve().as_uri()


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("a number greater than 0") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("a number greater than 0")
    return value


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("a number, 0 or more") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("a number, 0 or more")
    return value


def _optional_url(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("an http(s):// URL, or empty")
    return value


def _share(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ValueError("a number from 0 to 1")
    return value


def _name_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _path_list(raw: str) -> tuple[str, ...]:
    return tuple(part for part in raw.split(os.pathsep) if part.strip())


def _job_timeouts(raw: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, equals, seconds = part.partition("=")
        if not equals or not name.strip():
            raise ValueError("comma-separated JOB_TYPE=SECONDS pairs, such as scrape=3600")
        if name.strip() in out:
            raise ValueError(f"each job type once; {name.strip()} is given twice")
        try:
            out[name.strip()] = _positive_float(seconds)
        except ValueError:
            raise ValueError(
                f"comma-separated JOB_TYPE=SECONDS pairs; {name.strip()}: seconds must be "
                "a number greater than 0"
            ) from None
    return out


def _name_servers(raw: str) -> tuple[tuple[str, int], ...]:
    servers: list[tuple[str, int]] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        host, port = text, "53"
        if text.startswith("["):  # [IPv6]:port
            host, closed, rest = text[1:].partition("]")
            port = rest.removeprefix(":") if closed and rest[:1] in ("", ":") else "?"
            port = port or "53"
        elif text.count(":") == 1:  # IPv4:port
            host, port = text.split(":")
        try:
            address = str(ipaddress.ip_address(host))
            number = int(port)
        except ValueError:
            raise ValueError(
                "comma-separated IP addresses of name servers, each with an optional port "
                f"(127.0.0.1:5353, [::1]:53); not {text!r}"
            ) from None
        if not 0 < number < 65536:
            raise ValueError(f"a port from 1 to 65535; not {text!r}")
        servers.append((address, number))
    return tuple(servers)


def _rate_limit(raw: str) -> tuple[int, float] | None:
    value = raw.strip().lower()
    if value in ("0", ""):
        return None
    match = re.fullmatch(r"(\d+)\s*/\s*(second|minute|hour)", value)
    if not match or int(match.group(1)) <= 0:
        raise ValueError("N/second, N/minute or N/hour with N > 0, or 0 for no limit")
    period = {"second": 1.0, "minute": 60.0, "hour": 3600.0}[match.group(2)]
    return int(match.group(1)), period


def data_dir() -> Path:
    """Folder of the embedded default database and storage: ``$PIPELINE_HOME`` or ./data."""
    return Path(os.environ.get("PIPELINE_HOME", "data")).expanduser().resolve()


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default, parser and help text."""

    name: str
    default: Callable[[], str] | str
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False
    #: How a secret value is shown: its password masked (database URLs), or everything
    #: after the host (URLs whose path or query carries the token).
    mask: Callable[[str], str] | None = None

    def shown(self, value: str) -> str:
        """The value as printed or logged: secrets masked."""
        if not self.secret:
            return value
        return (self.mask or mask_url)(value)

    def default_text(self) -> str:
        return self.default() if callable(self.default) else self.default


def parse_quality_minimums(raw: str) -> tuple[int, dict[str, int]]:
    """``PIPELINE_QUALITY_MINIMUM``: ``60`` (every DMO), ``visit-x=70`` (one DMO), or both
    comma-separated; the minimum for everyone else and the minimum per DMO."""
    default = 0
    seen_default = False
    per_dmo: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, equals, number = part.rpartition("=")
        try:
            value = int(number.strip())
        except ValueError:
            raise ValueError("a score from 0 to 100, or DMO=score pairs, comma-separated") from None
        if not 0 <= value <= 100:
            raise ValueError("scores from 0 to 100")
        if equals and not name.strip():
            raise ValueError(f"DMO=score pairs name their DMO; {part!r} does not")
        if equals:
            if name.strip() in per_dmo:
                raise ValueError(f"each DMO once; {name.strip()} is given twice")
            per_dmo[name.strip()] = value
        elif seen_default:
            raise ValueError("one score for every DMO, not two")
        else:
            default, seen_default = value, True
    return default, per_dmo


def _quality_minimum(raw: str) -> str:
    parse_quality_minimums(raw)
    return raw.strip()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PIPELINE_DATABASE_URL",
        lambda: "sqlite:///" + str(data_dir() / "pipeline.db"),
        "SQLAlchemy URL of the database. Default: a SQLite file in the data folder "
        "($PIPELINE_HOME, else ./data). PostgreSQL: postgresql://user:pass@host/db (psycopg 3).",
        _database_url,
        secret=True,
    ),
    Setting(
        "PIPELINE_STORAGE_URL",
        lambda: (data_dir() / "files").as_uri(),
        "Where raw and normalised files are archived: a folder path or file:// URL "
        "(default: the data folder's files/), or s3://bucket/prefix.",
        _storage_url,
        secret=True,
        mask=lambda value: mask_url_credentials(value),
    ),
    Setting(
        "PIPELINE_ENABLE_QUEUES",
        "false",
        "true to announce every queued job on AWS SQS as well as writing it to the database.",
        _parse_bool,
    ),
    Setting(
        "PIPELINE_JOBS_QUEUE_URL",
        "",
        "URL of the SQS queue that announces jobs (needed when PIPELINE_ENABLE_QUEUES=true).",
        _optional_url,
        secret=True,
        mask=lambda value: mask_url_credentials(value),
    ),
    Setting(
        "PIPELINE_BATCH_SIZE",
        "500",
        "Records per stage-write batch (one statement per table per batch).",
        _positive_int,
    ),
    Setting(
        "PIPELINE_MAX_RETRIES",
        "5",
        "Attempts a failing job gets before it is dead-lettered.",
        _non_negative_int,
    ),
    Setting(
        "PIPELINE_RETRY_BACKOFF",
        "10",
        "Seconds before a failed job's first retry; each later retry waits twice as long "
        "(with random jitter), up to PIPELINE_RETRY_BACKOFF_MAX.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_RETRY_BACKOFF_MAX",
        "3600",
        "Longest wait, in seconds, before a job's retry.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_LEASE_SECONDS",
        "60",
        "How long a worker's claim on a job lasts without a heartbeat; a job whose lease "
        "expired is queued again (or dead-lettered when out of attempts).",
        _positive_float,
    ),
    Setting(
        "PIPELINE_DMO_CONCURRENCY",
        "2",
        "Most jobs of one DMO that run at once, so one DMO's backlog cannot starve the others "
        "(0: no limit).",
        _non_negative_int,
    ),
    Setting(
        "PIPELINE_POLL_INTERVAL",
        "1.0",
        "Seconds an idle worker waits before it looks for due jobs again.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_S3_ENDPOINT_URL",
        "",
        "Endpoint of the S3 API for s3:// storage (empty: AWS's own; set it for moto, "
        "LocalStack or MinIO).",
        _optional_url,
        secret=True,
        mask=lambda value: mask_url_credentials(value),
    ),
    Setting(
        "PIPELINE_SQS_ENDPOINT_URL",
        "",
        "Endpoint of the SQS API (empty: AWS's own; set it for moto or LocalStack).",
        _optional_url,
        secret=True,
        mask=lambda value: mask_url_credentials(value),
    ),
    Setting(
        "PIPELINE_WEBHOOK_URL",
        "",
        "URL that receives a JSON POST when a job fails for good (empty: no webhook). "
        "Treated as a secret: it often carries a token.",
        _optional_url,
        secret=True,
        mask=lambda value: mask_url_path(value),
    ),
    Setting(
        "PIPELINE_WITHDRAW_LIMIT",
        "0.5",
        "Largest share (0 to 1) of a source's active listings that one complete crawl may "
        "withdraw (two listings are always allowed); a crawl that would withdraw more "
        "withdraws nothing, records an error and is not complete. 1 turns the guard off.",
        _share,
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "Logging level: " + ", ".join(LOG_LEVELS) + ".",
        _log_level,
    ),
    Setting(
        "PIPELINE_DISABLE_PLUGINS",
        "",
        "Comma-separated plugin names not to load (built-in or installed), as shown by "
        "`dmo-pipeline plugins`.",
        _name_list,
    ),
    Setting(
        "PIPELINE_SOURCES_PATH",
        "",
        "Extra folders of mapping files (*.yaml), separated by the OS path separator; the "
        "project's mappings/ folder is always read.",
        _path_list,
    ),
    Setting(
        "PIPELINE_ALLOWED_HOSTS",
        "",
        "Comma-separated hosts that fetchers and the webhook notifier may reach although they "
        "resolve to private, loopback or link-local addresses (for example 127.0.0.1 in tests).",
        _name_list,
    ),
    # -- the job chain in operation: outages of S3 and SQS (issue 18) --
    Setting(
        "PIPELINE_STORAGE_RETRY_SECONDS",
        "300",
        "How long a scrape job keeps trying to store its archived file while storage (S3) "
        "is away, waiting 1 s, then twice as long each time up to 30 s, before its attempt "
        "fails; the file is kept on the worker, and the next attempt stores it without "
        "crawling again.",
        _non_negative_float,
    ),
    Setting(
        "PIPELINE_AWS_TIMEOUT",
        "10",
        "Seconds every S3 and SQS call may wait to connect and for each read (an SQS long "
        "poll adds its own wait), so a frozen endpoint never blocks a worker or the relay "
        "for longer.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_SWEEP_SECONDS",
        "60",
        "With PIPELINE_ENABLE_QUEUES=true, how often a worker also claims due jobs straight "
        "from the database, whatever SQS does, so a job whose announcement was lost or "
        "delayed still runs.",
        _positive_float,
    ),
    # -- mapping files as untrusted input (issue 15) --
    Setting(
        "PIPELINE_FILE_FOLDERS",
        "",
        "Extra folders, separated by the OS path separator, that file: URLs of mapping files "
        "may read besides the mapping's own folder (symlinks resolved; /proc, /sys and /dev "
        "never). Stored configurations read no files.",
        _path_list,
    ),
    # -- worker limits (issue 15) --
    Setting(
        "PIPELINE_JOB_TIMEOUTS",
        "",
        "Comma-separated JOB_TYPE=SECONDS pairs (for example scrape=3600,transform=600): a "
        "job of that type still running after so many seconds is cancelled, its attempt "
        "fails ('timed out') and it is retried with backoff like any failure. Types not "
        "named have no timeout.",
        _job_timeouts,
    ),
    Setting(
        "PIPELINE_NAME_SERVERS",
        "",
        "Comma-separated IP addresses (with an optional :port) of the DNS servers that "
        "resolve the host names fetchers request, for the URL policy's check and for the "
        "connection alike. Empty: the system's resolver.",
        _name_servers,
    ),
    # ------------------------------------------------------------ HTTP API (issue 10)
    Setting(
        "PIPELINE_SECRET_KEY",
        "",
        "Keys that encrypt the credentials of stored configs (${credential:NAME}): one or more "
        "Fernet keys (url-safe base64 of 32 bytes), comma-separated; the first encrypts, all "
        "decrypt (rotation: put the new key first, run `dmo-pipeline configs rotate-credentials`, "
        "then drop the old one). Empty: credentials cannot be set or used.",
        _name_list,
        secret=True,
        mask=lambda value: "***" if value else value,
    ),
    Setting(
        "PIPELINE_API_MAX_BODY",
        "1048576",
        "Largest JSON request body the API accepts, in bytes (413 beyond).",
        _positive_int,
    ),
    Setting(
        "PIPELINE_API_MAX_UPLOAD",
        "104857600",
        "Largest feed file POST /files accepts, in bytes (413 beyond; nothing is kept).",
        _positive_int,
    ),
    Setting(
        "PIPELINE_API_MAX_PAGE",
        "500",
        "Largest page size (limit) a list route returns.",
        _positive_int,
    ),
    Setting(
        "PIPELINE_API_PROCESS_TIMEOUT",
        "60",
        "Longest time budget, in seconds, that POST /queue/process may be given; it claims "
        "no new job once its budget is spent.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_API_RATE_LIMIT",
        "600/minute",
        "Requests one API key may make per period in one API process (N/second, N/minute or "
        "N/hour); beyond it 429 with Retry-After. 0 turns the limit off.",
        _rate_limit,
    ),
    # Live job status and worker wake-up (issue 11)
    Setting(
        "PIPELINE_QUEUE_NOTIFY",
        "true",
        "On PostgreSQL, an idle worker LISTENs for jobs queued (NOTIFY) and starts them at "
        "once instead of at its next poll; false: poll only. SQLite always polls.",
        _parse_bool,
    ),
    Setting(
        "PIPELINE_EVENTS_REPLAY",
        "1000",
        "Most job events (pipeline.job_events) a client of /api/v1/pipeline/events that "
        "reconnects with last_event_id is sent of those it missed; beyond it, the newest.",
        _positive_int,
    ),
    Setting(
        "PIPELINE_EVENTS_KEEP_HOURS",
        "168",
        "Hours job events are kept; workers delete older ones (with their lease rescue).",
        _positive_float,
    ),
    # Promotion and quality (issue 13)
    Setting(
        "PIPELINE_QUALITY_MINIMUM",
        "0",
        "Lowest quality score (0-100) a staging listing needs to be promoted: one number for "
        "every DMO, DMO=score pairs, or both, comma-separated (60,visit-harbour=75). A "
        "mapping's quality_minimum wins for its source. 0: no minimum.",
        _quality_minimum,
    ),
    # Operating the pipeline (issue 11)
    Setting(
        "PIPELINE_LOG_FORMAT",
        "text",
        "Format of log lines on stderr: text (one readable line each) or json (one JSON "
        "object per line: time, level, logger, message, and the correlation id, job id, "
        "attempt, source and DMO of the job or request the line belongs to).",
        _log_format,
    ),
    Setting(
        "PIPELINE_METRICS_DIR",
        "",
        "Folder where each process (API processes, workers) writes its Prometheus metrics, "
        "so that /metrics adds up every process (prometheus-client's multiprocess mode; "
        "exported as PROMETHEUS_MULTIPROC_DIR). Empty: /metrics shows the API process's own "
        "counts. Empty the folder when the service (re)starts.",
        _optional_path,
    ),
)


# ---------------------------------------------------------------- images (issue 12)

#: Output formats an image variant may have.
IMAGE_FORMATS = ("jpeg", "webp", "png")


@dataclass(frozen=True)
class ImageVariant:
    """One derived image: fitted inside ``size`` x ``size`` pixels, encoded as ``format``."""

    name: str
    size: int
    format: str


def _image_variants(raw: str) -> tuple[ImageVariant, ...]:
    expected = "name:size:format items separated by commas, e.g. thumb:400:jpeg,large:1200:webp"
    out: list[ImageVariant] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if part.count(":") != 2:
            raise ValueError(f"{expected} ({part!r} is not name:size:format)")
        name, size, fmt = part.split(":")
        fmt = fmt.strip().lower()
        if name.strip() == "original":
            raise ValueError(f"{expected} (the name 'original' is the original's own)")
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,29}", name.strip()):
            raise ValueError(
                f"{expected} (bad name {name!r}: a lower-case letter, then up to 29 letters, "
                "digits, - or _)"
            )
        if not size.strip().isdigit() or not 16 <= int(size) <= 10_000:
            raise ValueError(f"{expected} (size of {name!r} is 16 to 10000 pixels)")
        if fmt not in IMAGE_FORMATS:
            raise ValueError(
                f"{expected} (format of {name!r} is one of {', '.join(IMAGE_FORMATS)})"
            )
        if any(v.name == name.strip() for v in out):
            raise ValueError(f"{expected} (variant {name!r} named twice)")
        out.append(ImageVariant(name.strip(), int(size), fmt))
    return tuple(out)


def _webp_method(raw: str) -> int:
    value = _non_negative_int(raw)
    if value > 6:
        raise ValueError("a whole number from 0 (fastest) to 6 (smallest)")
    return value


def _quality(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise ValueError("a whole number from 1 to 100")
    return value


def _header_value(raw: str) -> str:
    """An HTTP header's value: no control characters (a line break would start another
    header)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ValueError("a header value on one line, without control characters")
    return raw.strip()


@dataclass(frozen=True)
class ImageSettings:
    """The ``PIPELINE_IMAGE_*`` settings, as ``Settings.images``."""

    variants: tuple[ImageVariant, ...] = (
        ImageVariant("thumb", 400, "jpeg"),
        ImageVariant("large", 1200, "webp"),
    )
    jpeg_quality: int = 75
    webp_quality: int = 80
    webp_method: int = 2
    original_max: int = 2560
    max_pixels: int = 50_000_000
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 20.0
    retry_after: float = 86400.0
    concurrency: int = 8
    processes: int = 0
    cache_control: str = "public, max-age=31536000, immutable"


IMAGE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PIPELINE_IMAGE_VARIANTS",
        "thumb:400:jpeg,large:1200:webp",
        "Variants the image job makes of every image besides its optimised original: "
        "name:size:format items separated by commas; each fits inside size x size pixels "
        "(never enlarged); format jpeg, webp or png (jpeg becomes png for an image with "
        "transparency). Empty: the original only.",
        _image_variants,
    ),
    Setting(
        "PIPELINE_IMAGE_JPEG_QUALITY",
        "75",
        "Encoder quality (1-100) of JPEG outputs, the optimised original included "
        "(75: Pillow's default).",
        _quality,
    ),
    Setting(
        "PIPELINE_IMAGE_WEBP_QUALITY",
        "80",
        "Encoder quality (1-100) of WebP outputs (80: Pillow's default).",
        _quality,
    ),
    Setting(
        "PIPELINE_IMAGE_WEBP_METHOD",
        "2",
        "Effort of the WebP encoder, 0 (fastest) to 6 (smallest files). 2 encodes a photo "
        "about 3 times faster than Pillow's default 4, its files some 8 % larger at the "
        "same quality setting.",
        _webp_method,
    ),
    Setting(
        "PIPELINE_IMAGE_ORIGINAL_MAX",
        "2560",
        "Longest side, in pixels, of the stored optimised original: a larger image is "
        "fitted inside it (a JPEG reduced while it is decoded). 0 keeps every image's size.",
        _non_negative_int,
    ),
    Setting(
        "PIPELINE_IMAGE_MAX_PIXELS",
        "50000000",
        "Largest image (width x height, read from its header before decoding) the image "
        "job accepts; a larger one is an error row (decompression bombs).",
        _positive_int,
    ),
    Setting(
        "PIPELINE_IMAGE_MAX_BYTES",
        "20971520",
        "Largest image download in bytes (20 MiB); a longer body is an error row.",
        _positive_int,
    ),
    Setting(
        "PIPELINE_IMAGE_TIMEOUT",
        "20",
        "Seconds an image download may take, connection and body included.",
        _positive_float,
    ),
    Setting(
        "PIPELINE_IMAGE_RETRY_AFTER",
        "86400",
        "Seconds a URL that failed (HTTP error, refused, not resolved, not an image, ...) is "
        "not fetched again: until then its listing images are marked failed with the known "
        "reason and no new error row is written. 0: every run tries it again.",
        _non_negative_float,
    ),
    Setting(
        "PIPELINE_IMAGE_CONCURRENCY",
        "8",
        "Images an image job downloads at once (also the most images held in memory).",
        _positive_int,
    ),
    Setting(
        "PIPELINE_IMAGE_PROCESSES",
        "0",
        "Processes that decode and encode images (0: one per CPU).",
        _non_negative_int,
    ),
    Setting(
        "PIPELINE_IMAGE_CACHE_CONTROL",
        "public, max-age=31536000, immutable",
        "Cache-Control header of stored images (their keys change with their content); "
        "empty: none.",
        _header_value,
    ),
)

_IMAGE_FIELD_OF = {
    "PIPELINE_IMAGE_VARIANTS": "variants",
    "PIPELINE_IMAGE_JPEG_QUALITY": "jpeg_quality",
    "PIPELINE_IMAGE_WEBP_QUALITY": "webp_quality",
    "PIPELINE_IMAGE_WEBP_METHOD": "webp_method",
    "PIPELINE_IMAGE_ORIGINAL_MAX": "original_max",
    "PIPELINE_IMAGE_MAX_PIXELS": "max_pixels",
    "PIPELINE_IMAGE_MAX_BYTES": "max_bytes",
    "PIPELINE_IMAGE_TIMEOUT": "timeout",
    "PIPELINE_IMAGE_RETRY_AFTER": "retry_after",
    "PIPELINE_IMAGE_CONCURRENCY": "concurrency",
    "PIPELINE_IMAGE_PROCESSES": "processes",
    "PIPELINE_IMAGE_CACHE_CONTROL": "cache_control",
}

SETTINGS += IMAGE_SETTINGS

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective settings. Build with :func:`load_settings`."""

    database_url: str
    storage_url: str
    enable_queues: bool
    jobs_queue_url: str | None
    batch_size: int
    max_retries: int
    retry_backoff: float
    retry_backoff_max: float
    lease_seconds: float
    dmo_concurrency: int
    poll_interval: float
    s3_endpoint_url: str | None
    sqs_endpoint_url: str | None
    webhook_url: str | None
    withdraw_limit: float
    log_level: str
    disable_plugins: tuple[str, ...]
    sources_path: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    storage_retry_seconds: float = 300.0
    aws_timeout: float = 10.0
    sweep_seconds: float = 60.0
    file_folders: tuple[str, ...] = ()
    #: Seconds a job of each type may run (``PIPELINE_JOB_TIMEOUTS``).
    job_timeouts: Mapping[str, float] = field(default_factory=dict)
    #: (address, port) of the DNS servers of fetchers' names (``PIPELINE_NAME_SERVERS``).
    name_servers: tuple[tuple[str, int], ...] = ()
    quality_minimum: str = "0"
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)
    # HTTP API (issue 10)
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    api_max_body: int = 1_048_576
    api_max_upload: int = 104_857_600
    api_max_page: int = 500
    api_process_timeout: float = 60.0
    api_rate_limit: tuple[int, float] | None = (600, 60.0)
    # Operating the pipeline (issue 11)
    log_format: str = "text"
    metrics_dir: str | None = None

    # Live job status (issue 11)
    queue_notify: bool = True
    events_replay: int = 1000
    events_keep_hours: float = 168.0

    images: ImageSettings = field(default_factory=ImageSettings)

    def masked(self) -> dict[str, str]:
        """Effective values as text, with passwords and secret settings masked."""
        out: dict[str, str] = {}
        for setting in SETTINGS:
            value = self.raw[setting.name]
            out[setting.name] = setting.shown(value)
        return out


_FIELD_OF = {
    "PIPELINE_DATABASE_URL": "database_url",
    "PIPELINE_STORAGE_URL": "storage_url",
    "PIPELINE_ENABLE_QUEUES": "enable_queues",
    "PIPELINE_JOBS_QUEUE_URL": "jobs_queue_url",
    "PIPELINE_BATCH_SIZE": "batch_size",
    "PIPELINE_MAX_RETRIES": "max_retries",
    "PIPELINE_RETRY_BACKOFF": "retry_backoff",
    "PIPELINE_RETRY_BACKOFF_MAX": "retry_backoff_max",
    "PIPELINE_LEASE_SECONDS": "lease_seconds",
    "PIPELINE_DMO_CONCURRENCY": "dmo_concurrency",
    "PIPELINE_POLL_INTERVAL": "poll_interval",
    "PIPELINE_S3_ENDPOINT_URL": "s3_endpoint_url",
    "PIPELINE_SQS_ENDPOINT_URL": "sqs_endpoint_url",
    "PIPELINE_WEBHOOK_URL": "webhook_url",
    "PIPELINE_WITHDRAW_LIMIT": "withdraw_limit",
    "LOG_LEVEL": "log_level",
    "PIPELINE_DISABLE_PLUGINS": "disable_plugins",
    "PIPELINE_SOURCES_PATH": "sources_path",
    "PIPELINE_ALLOWED_HOSTS": "allowed_hosts",
    "PIPELINE_STORAGE_RETRY_SECONDS": "storage_retry_seconds",
    "PIPELINE_AWS_TIMEOUT": "aws_timeout",
    "PIPELINE_SWEEP_SECONDS": "sweep_seconds",
    "PIPELINE_FILE_FOLDERS": "file_folders",
    "PIPELINE_JOB_TIMEOUTS": "job_timeouts",
    "PIPELINE_NAME_SERVERS": "name_servers",
    "PIPELINE_SECRET_KEY": "secret_keys",
    "PIPELINE_API_MAX_BODY": "api_max_body",
    "PIPELINE_API_MAX_UPLOAD": "api_max_upload",
    "PIPELINE_API_MAX_PAGE": "api_max_page",
    "PIPELINE_API_PROCESS_TIMEOUT": "api_process_timeout",
    "PIPELINE_API_RATE_LIMIT": "api_rate_limit",
    "PIPELINE_QUALITY_MINIMUM": "quality_minimum",
    "PIPELINE_LOG_FORMAT": "log_format",
    "PIPELINE_METRICS_DIR": "metrics_dir",
    "PIPELINE_QUEUE_NOTIFY": "queue_notify",
    "PIPELINE_EVENTS_REPLAY": "events_replay",
    "PIPELINE_EVENTS_KEEP_HOURS": "events_keep_hours",
}


#: Query parameters of a URL whose values are secrets (libpq's ``password`` and
#: ``sslpassword``, and the usual names of keys and tokens); ``sslkey`` is a file path.
_SECRET_PARAM = re.compile(
    r"pass|pwd|secret|token|api[-_]?key|access[-_]?key|credential|signature|auth|^sig$|^key$",
    re.IGNORECASE,
)


def mask_url(value: str) -> str:
    """Replace the password of a URL by ``***``, in ``user:pass@`` and in the query string
    (``?password=…``, ``sslpassword``, ``token``…); other text is returned as it is."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "***"
    masked = parts
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        masked = masked._replace(netloc=netloc)
    if parts.query:
        params = []
        for param in parts.query.split("&"):
            name, equals, _ = param.partition("=")
            secret = equals and _SECRET_PARAM.search(unquote_plus(name))
            params.append(f"{name}=***" if secret else param)
        masked = masked._replace(query="&".join(params))
    return value if masked == parts else urlunsplit(masked)


def mask_url_credentials(value: str) -> str:
    """:func:`mask_url`, with the whole user info replaced by ``***`` (an access key id is
    a credential too): for URLs that name no database user worth showing."""
    masked = mask_url(value)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return "***"
    if "@" not in parts.netloc:
        return masked
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc="***@" + host))


def mask_url_path(value: str) -> str:
    """Keep a URL's scheme and host and replace the rest by ``***``."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "***"
    if not parts.netloc:
        return "***" if value else value
    return f"{parts.scheme}://{parts.hostname}/***"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from ``environ`` (default: ``os.environ``).

    Raises :class:`ConfigError` naming the first variable whose value is not accepted.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    images: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for setting in SETTINGS:
        text = env.get(setting.name)
        if text is None:
            text = setting.default_text()
        try:
            parsed = setting.parse(text)
            if setting.name in _IMAGE_FIELD_OF:
                images[_IMAGE_FIELD_OF[setting.name]] = parsed
            else:
                values[_FIELD_OF[setting.name]] = parsed
        except ValueError as exc:
            shown = setting.shown(text)
            raise ConfigError(f"{setting.name}={shown!r} is not accepted: expected {exc}") from None
        raw[setting.name] = text
    settings = Settings(**values, raw=raw, images=ImageSettings(**images))
    if settings.enable_queues and not settings.jobs_queue_url:
        raise ConfigError(
            "PIPELINE_ENABLE_QUEUES=true needs PIPELINE_JOBS_QUEUE_URL (the SQS queue URL)"
        )
    return settings
