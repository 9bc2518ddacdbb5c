"""Checks of a mapping document against the fetcher it names, when sources are loaded.

A fetcher class declares what it reads (see :class:`pipeline_core.scrapy.fetcher.FetcherSpider`):
``options_schema`` (a JSON Schema of the mapping's ``options`` object),
``pagination_types`` (the ``pagination.type`` values it follows) and ``required_keys``
(top-level keys it cannot do without). Errors name the file, the line and the key, as
schema errors do. Request headers are checked for every source: a secret belongs in the
environment (``${DMO_SECRET_<DMO>__NAME}``), never in a mapping file or a stored
configuration, and a header may only name its own DMO's variables (none for a stored
configuration; :mod:`pipeline_core.mapping.secrets`), so a mapping cannot send the pipeline's
own settings (database URL, cloud keys) or another DMO's secrets to a source host. A mapping
file's ``file:`` URL must lie in its own folder (or one of ``PIPELINE_FILE_FOLDERS``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema_rs

from pipeline_core.config import Settings
from pipeline_core.credentials import CREDENTIAL_REF, config_of_origin
from pipeline_core.exceptions import MappingError, URLPolicyError
from pipeline_core.mapping.document import MappingDocument, describe_error
from pipeline_core.mapping.secrets import ANY_REF, ENV_REF, dmo_secret_prefix, reference_problem
from pipeline_core.urlpolicy import check_file_path, file_roots

#: Header names whose values are credentials.
SECRET_HEADER = re.compile(
    r"authorization|api[-_]?key|token|secret|password|passwd|cookie|signature|credential",
    re.IGNORECASE,
)
#: Values that look like credentials whatever the header is called.
SECRET_VALUE = re.compile(r"^\s*(bearer|basic|token|apikey)\s+\S{8,}", re.IGNORECASE)
AUTH_SCHEME = re.compile(r"^\s*(bearer|basic|token|apikey|digest)\b", re.IGNORECASE)


def _fail(doc: MappingDocument, path: list[Any], message: str) -> MappingError:
    return doc.error(path, message)


def check_source_document(doc: MappingDocument, settings: Settings) -> None:
    """The checks every source's document gets when sources load, whatever its fetcher:
    its headers (:func:`check_headers`) and its ``file:`` URL (:func:`check_file_url`)."""
    check_headers(doc)
    check_file_url(doc, settings)


def check_headers(doc: MappingDocument) -> None:
    """Refuse a literal secret in a header, and a ``${NAME}`` out of the mapping's scope
    (:func:`pipeline_core.mapping.secrets.reference_problem`)."""
    stored = doc.base_dir is None
    prefix = dmo_secret_prefix(doc.dmo)
    for header, value in doc.doc.get("headers", {}).items():
        if CREDENTIAL_REF.search(value):
            if config_of_origin(doc.origin) is None:
                raise _fail(
                    doc,
                    ["headers", header],
                    f"header {header} references a stored credential (${{credential:...}}); "
                    "only stored configurations (pipeline.configs) have credentials",
                )
            value = CREDENTIAL_REF.sub("", value)
        for name in ANY_REF.findall(value):
            problem = reference_problem(name, doc.dmo, stored)
            if problem is not None:
                raise _fail(
                    doc, ["headers", header], f"header {header} references ${{{name}}}; {problem}"
                )
        literal = ENV_REF.sub("", value)
        if SECRET_HEADER.search(header):
            # what is left once "${NAME}" and an auth scheme ("Bearer ") are taken away
            secret = AUTH_SCHEME.sub("", literal).strip()
        else:
            secret = literal if SECRET_VALUE.match(literal) else ""
        if secret:
            raise _fail(
                doc,
                ["headers", header],
                f"header {header} holds a literal secret; put it in an environment variable "
                f'named {prefix}NAME and write "${{{prefix}NAME}}" (for example '
                f'"Bearer ${{{prefix}API_TOKEN}}"): secrets never live in mapping files',
            )


def check_file_url(doc: MappingDocument, settings: Settings) -> None:
    """Refuse a mapping file whose ``url`` is a file outside the folders it may read
    (:func:`pipeline_core.urlpolicy.check_file_path`)."""
    url = doc.resolved_url()
    if not url or not url.startswith("file:") or doc.base_dir is None:
        return
    try:
        check_file_path(url, file_roots(doc.base_dir, settings))
    except URLPolicyError as exc:
        raise _fail(doc, ["url"], str(exc)) from None


@cache
def _options_validator(fetcher: type) -> Any:
    """The fetcher's ``options_schema`` compiled by ``jsonschema_rs`` (the same draft)."""
    return jsonschema_rs.Draft202012Validator(fetcher.options_schema)  # type: ignore[attr-defined]


def check_against_fetcher(doc: MappingDocument, fetcher: type) -> None:
    """Raise :class:`MappingError` unless ``doc`` gives ``fetcher`` what it needs."""
    name = getattr(fetcher, "fetcher_name", "?")
    for key in getattr(fetcher, "required_keys", ()):
        if key not in doc.doc:
            raise _fail(doc, [], f"fetcher {name} needs {key!r}")
    kinds = getattr(fetcher, "pagination_types", None)
    pagination = doc.doc.get("pagination")
    if kinds is not None and pagination is not None and pagination["type"] not in kinds:
        raise _fail(
            doc,
            ["pagination", "type"],
            f"fetcher {name} does not follow pagination {pagination['type']!r} "
            f"(it follows: {', '.join(kinds)})",
        )
    schema = getattr(fetcher, "options_schema", None)
    if schema is None:
        return
    options = doc.doc.get("options", {})
    error = None
    if not _options_validator(fetcher).is_valid(options):
        # Only options that are wrong pay for the pure-Python validator (and its import, about
        # 2 MB of every crawl's memory: issue 16), whose best_match picks the error to show.
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(options))
    if error is None:
        check = getattr(fetcher, "check_options", None)
        problem = check(options) if check is not None else None
        if problem is not None:
            raise _fail(doc, ["options", *problem[0]], problem[1])
        return
    path, message = describe_error(error)
    raise _fail(
        doc,
        ["options", *path],
        message.replace("docs/reference/mapping.md", "docs/reference/fetchers.md"),
    )
