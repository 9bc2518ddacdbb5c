"""Mapping documents: load from YAML or a ``pipeline.configs`` row, check against the schema.

A mapping file and a stored configuration are the same document. Errors name the file,
the line (for files), the path inside the document and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from pipeline_core.exceptions import MappingError
from pipeline_core.frequency import DEFAULT_FREQUENCY, parse_frequency
from pipeline_core.mapping.yaml_reader import (
    MAX_DOCUMENT_BYTES,
    MappingLoader,
    check_bounds,
    compose_bounded,
)

#: Top-level keys kept in ``pipeline.configs.scrape_config`` (all but the seed's own columns).
_CONFIG_COLUMNS = {"source", "dmo", "fetcher", "url", "fields", "scrape_frequency"}


@cache
def mapping_schema() -> dict[str, Any]:
    """The JSON Schema every mapping document is checked against."""
    text = resources.files(__package__).joinpath("mapping.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class MappingDocument:
    """One checked mapping document and where it came from."""

    doc: dict[str, Any]
    origin: str
    base_dir: Path | None = None
    #: The text the document was read from, when it came as text but not from a file (a
    #: stored configuration sent to the API as YAML or JSON): lines of errors are found in it.
    text: str | None = field(default=None, repr=False, compare=False)

    @property
    def source(self) -> str:
        return str(self.doc["source"])

    @property
    def dmo(self) -> str:
        return str(self.doc["dmo"])

    @property
    def fetcher(self) -> str:
        return str(self.doc["fetcher"])

    @property
    def scrape_frequency(self) -> str:
        return str(self.doc.get("scrape_frequency", DEFAULT_FREQUENCY))

    def resolved_url(self) -> str | None:
        """The first URL; a ``file:`` URL or bare relative path is resolved to the file's folder."""
        url = self.doc.get("url")
        if url is None:
            return None
        url = str(url)
        if url.startswith("file://") or "://" in url:
            return url
        relative = url[len("file:") :] if url.startswith("file:") else url
        base = self.base_dir or Path.cwd()
        return (base / relative).resolve().as_uri()

    def position(self, path: list[Any]) -> tuple[int, int] | None:
        """(line, column), 1-based, of the value at a document path in the document's text:
        its :attr:`text` when it has one (a stored configuration sent as YAML or JSON), else
        its file (for mapping files); None when neither is known."""
        if self.text is not None:
            text = self.text
        elif self.base_dir is not None:
            try:
                text = Path(self.origin).read_text("utf-8")
            except OSError:
                return None
        else:
            return None
        node = _node_at(text_root(text), path)
        return (node.start_mark.line + 1, node.start_mark.column + 1) if node else None

    def where(self, path: list[Any]) -> str:
        """``origin:line`` of the value at a document path, or ``origin`` when its place is
        not known."""
        found = self.position(path)
        return f"{self.origin}:{found[0]}" if found is not None else self.origin

    def error(self, path: list[Any], message: str) -> MappingError:
        """A :class:`MappingError` at a document path: ``origin:line: at key: message``,
        with its key, line and column set."""
        key = ".".join(str(p) for p in path) or "(top level)"
        found = self.position(path)
        line, column = found if found is not None else (None, None)
        where = f"{self.origin}:{line}" if line is not None else self.origin
        return MappingError(f"{where}: at {key}: {message}", key=key, line=line, column=column)

    def with_defaults(self, defaults: MappingABC[str, Any]) -> MappingDocument:
        """This document over a fetcher's default mapping (``id`` and ``fields``).

        The document's own ``id``/``key`` win over the default ``id``; each of its fields
        replaces the default fields of the same target and of the targets above or below it
        (``location`` replaces ``location.latitude``, and the other way round).
        """
        if not defaults:
            return self
        doc = dict(self.doc)
        if "id" not in doc and "key" not in doc and "id" in defaults:
            doc["id"] = defaults["id"]
        own = doc.get("fields", {})
        fields = {
            target: spec
            for target, spec in defaults.get("fields", {}).items()
            if not any(
                target == mine or target.startswith(mine + ".") or mine.startswith(target + ".")
                for mine in own
            )
        }
        fields.update(own)
        doc["fields"] = fields
        return MappingDocument(doc=doc, origin=self.origin, base_dir=self.base_dir, text=self.text)

    def to_config_row(self) -> dict[str, Any]:
        """The ``pipeline.configs`` columns holding this document."""
        return {
            "name": self.source,
            "dmo": self.dmo,
            "source_type": self.fetcher,
            "base_url": self.resolved_url() or "",
            "scrape_config": {k: v for k, v in self.doc.items() if k not in _CONFIG_COLUMNS},
            "field_mappings": self.doc.get("fields", {}),
            "scrape_frequency": self.scrape_frequency,
        }


@cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(mapping_schema())


def text_root(text: str) -> yaml.Node | None:
    """The YAML node tree of a document's text (YAML, or JSON: every JSON text is YAML once
    its tabs, which JSON allows only between tokens, are spaces), read with bounded cost,
    to find where a value is; None when the text cannot be read so."""
    loader = MappingLoader(text.replace("\t", " "))
    try:
        root: yaml.Node | None = loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return root


def _node_at(node: yaml.Node | None, path: list[Any]) -> yaml.Node | None:
    """The YAML node at a document path, or the deepest one found on the way."""
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def describe_error(error: Any) -> tuple[list[Any], str]:
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        return path, message + " (see docs/reference/mapping.md for the keys)"
    if error.validator == "not" and path == []:
        return path, "give either 'id' or 'key', not both"
    if error.validator == "oneOf" and path[:1] == [] and error.instance is not None:
        if isinstance(error.instance, dict) and "id" in error.instance and "key" in error.instance:
            return path, "give either 'id' or 'key', not both"
        if isinstance(error.instance, dict):
            return path, "a mapping needs 'id' (path of the record's id) or 'key' (derived id)"
    return path, message


def check_document(doc: Any, origin: str, root: yaml.Node | None = None) -> None:
    """Raise :class:`MappingError` unless ``doc`` is a valid mapping document.

    Its size and depth are checked first (:func:`~pipeline_core.mapping.yaml_reader.check_bounds`),
    before the schema validator walks it."""
    check_bounds(doc, origin)
    if not isinstance(doc, dict):
        raise MappingError(
            f"{origin}: a mapping is a YAML mapping of keys, got {type(doc).__name__}"
        )
    if _fast_validator().is_valid(doc):
        _check_frequency(doc, origin, root)
        return
    # Only a broken document pays for the pure-Python validator, whose best_match picks
    # the error that explains it.
    import jsonschema

    validator = jsonschema.Draft202012Validator(mapping_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        _check_frequency(doc, origin, root)
        return
    path, message = describe_error(error)
    raise _error_at(origin, root, path, message)


def _error_at(origin: str, root: yaml.Node | None, path: list[Any], message: str) -> MappingError:
    where = origin
    node = _node_at(root, path) if root is not None else None
    line = column = None
    if node is not None:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        where = f"{origin}:{line}"
    key = ".".join(str(p) for p in path) or "(top level)"
    return MappingError(f"{where}: at {key}: {message}", key=key, line=line, column=column)


def _check_frequency(doc: dict[str, Any], origin: str, root: yaml.Node | None) -> None:
    """The schema only says ``scrape_frequency`` is text; check it is one the scheduler reads."""
    if "scrape_frequency" not in doc:
        return
    try:
        parse_frequency(doc["scrape_frequency"])
    except ValueError as exc:
        raise _error_at(origin, root, ["scrape_frequency"], str(exc)) from None


def load_mapping_text(text: str, origin: str, base_dir: Path | None = None) -> MappingDocument:
    """Parse and check a YAML mapping given as text (``origin`` names it in errors)."""
    doc, root = compose_bounded(text, origin)
    check_document(doc, origin, root)
    return MappingDocument(doc=doc, origin=origin, base_dir=base_dir)


def load_mapping_file(path: str | Path) -> MappingDocument:
    """Load and check one mapping file."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read: {exc.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise MappingError(f"{path}: refused: the file is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return load_mapping_text(text, str(path), base_dir=path.parent.resolve())


def document_from_config_row(row: MappingABC[str, Any]) -> MappingDocument:
    """Rebuild the mapping document held by a ``pipeline.configs`` row, and check it."""
    doc: dict[str, Any] = dict(row["scrape_config"] or {})
    doc.update(source=row["name"], dmo=row["dmo"], fetcher=row["source_type"])
    if row["field_mappings"]:  # a jsonld source may have none: its fetcher maps by default
        doc["fields"] = row["field_mappings"]
    origin = f"pipeline.configs[{row['name']}]"
    base_url = row.get("base_url") or ""
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise MappingError(
                f"{origin}: at base_url: a stored configuration needs an absolute http(s) URL, "
                f"got {base_url!r}"
            )
        doc["url"] = base_url
    if row.get("scrape_frequency"):
        doc["scrape_frequency"] = row["scrape_frequency"]
    check_document(doc, origin)
    return MappingDocument(doc=doc, origin=origin)
