"""The mapping language: documents (YAML files or stored configs) and their compiler."""

from __future__ import annotations

from pipeline_core.mapping.compiler import CompiledMapping, make_getter
from pipeline_core.mapping.document import (
    MappingDocument,
    check_document,
    document_from_config_row,
    load_mapping_file,
    load_mapping_text,
    mapping_schema,
)

__all__ = [
    "CompiledMapping",
    "MappingDocument",
    "check_document",
    "document_from_config_row",
    "load_mapping_file",
    "load_mapping_text",
    "make_getter",
    "mapping_schema",
]
