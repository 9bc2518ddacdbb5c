"""Write the draft, then check it like any mapping and preview it on the sample.

The draft text is loaded by the mapping loader (limits, schema), checked against its
fetcher (options, pagination), compiled with every registered transform (over the
fetcher's default mapping, as a crawl compiles it), and each sampled record is mapped and
validated by :func:`pipeline_core.stages.preview.preview_record`: the share that would
stage is the share of valid previews.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_core.drafting import paging
from pipeline_core.drafting.columns import columns_of
from pipeline_core.drafting.compose import compose
from pipeline_core.drafting.recognise import recognise
from pipeline_core.drafting.sample import (
    DraftError,
    Records,
    Sample,
    fetch_sample,
    read_records,
    sniff_format,
)
from pipeline_core.exceptions import MappingError
from pipeline_core.mapping import CompiledMapping
from pipeline_core.mapping.document import MappingDocument, load_mapping_text
from pipeline_core.mapping.fetcher_check import check_against_fetcher
from pipeline_core.stages.preview import preview_record


@dataclass
class Draft:
    """A drafted mapping and what its preview on the sample said."""

    name: str
    text: str
    fmt: str
    sampled: int
    staged: int
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    #: The most common preview errors: (message, how many records).
    errors: list[tuple[str, int]] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)

    @property
    def share_staged(self) -> float:
        """Share of sampled records that map and validate."""
        return self.staged / self.sampled if self.sampled else 0.0

    def as_json(self) -> dict[str, Any]:
        """The draft and its preview as plain JSON values (``POST /configs/draft``)."""
        return {
            "source": self.name,
            "format": self.fmt,
            "mapping": self.text,
            "sampled": self.sampled,
            "staged": self.staged,
            "share_staged": round(self.share_staged, 4),
            "errors": [{"message": m, "records": n} for m, n in self.errors],
            "unmapped": [{"path": p, "example": e} for p, e in self.unmapped],
            "undecided": list(self.undecided),
        }

    def summary(self) -> list[str]:
        """The lines the command ends with."""
        lines = [
            f"{self.staged} of {self.sampled} sampled records would stage ({self.share_staged:.0%})"
        ]
        for message, count in self.errors:
            lines.append(f"  {count} records: {message}")
        if self.unmapped:
            lines.append(
                f"left unmapped ({len(self.unmapped)}): "
                + ", ".join(path for path, _ in self.unmapped[:20])
                + (" …" if len(self.unmapped) > 20 else "")
            )
        if self.undecided:
            lines.append("could not decide:")
            lines.extend(f"  {item}" for item in self.undecided)
        return lines


def draft_source(
    name: str,
    source: str,
    *,
    fmt: str | None = None,
    sample_size: int = 200,
    dmo: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    transforms: dict[str, Any] | None = None,
    fetchers: dict[str, type] | None = None,
    mapping_dir: Path | None = None,
) -> Draft:
    """Draft the mapping of source ``name`` from ``source`` (an http(s) URL or a file).

    A file inside ``mapping_dir`` (the folder the draft will be written to) is named by
    its path relative to it, so the mapping reads it from its own folder; any other file
    by its absolute ``file://`` URL."""
    sample = fetch_sample(source, allowed_hosts)
    return draft_from_sample(
        name,
        sample,
        fmt=fmt,
        sample_size=sample_size,
        dmo=dmo,
        transforms=transforms,
        fetchers=fetchers,
        mapping_dir=mapping_dir,
    )


def draft_from_sample(
    name: str,
    sample: Sample,
    *,
    fmt: str | None = None,
    sample_size: int = 200,
    dmo: str | None = None,
    transforms: dict[str, Any] | None = None,
    fetchers: dict[str, type] | None = None,
    mapping_dir: Path | None = None,
) -> Draft:
    """Draft from a fetched :class:`Sample` (see :func:`draft_source`)."""
    if transforms is None or fetchers is None:
        from pipeline_core.plugins import get_plugin_manager

        pm = get_plugin_manager()
        transforms = pm.transforms() if transforms is None else transforms
        fetchers = pm.fetchers() if fetchers is None else fetchers
    header: list[str] = []
    if fmt is None:
        fmt, why = sniff_format(sample)
        header.append(f"# format: {fmt} ({why})")
    records = read_records(sample, fmt, sample_size)
    fmt = records.fmt  # an HTML page's schema.org items are read as the jsonld fetcher does
    if not records.records:
        raise DraftError(f"{sample.location}: no records found ({'; '.join(records.notes)})")
    header.append(
        f"# sample: {len(records.records)} of {records.total or len(records.records)} records "
        f"of the first page; " + "; ".join(records.notes)
    )
    url = sample.location if sample.is_url else _file_url(Path(sample.location), mapping_dir)
    pagination, pagination_why = paging.detect(
        url, sample.link_header, records.document, fmt, records.records_path
    )
    plan = recognise(columns_of(records.records), fmt, name)
    text = compose(
        name,
        dmo or name,
        fmt,
        url,
        records.records_path,
        records.options,
        pagination,
        pagination_why,
        plan,
        header,
    )
    draft = Draft(name, text, fmt, len(records.records), 0, plan.unmapped, plan.undecided)
    draft.records = records.records
    preview(draft, records, transforms, fetchers)
    return draft


def _file_url(path: Path, mapping_dir: Path | None) -> str:
    """``feeds/page.json`` inside the mapping's folder, else ``file:///…``."""
    if mapping_dir is not None and path.is_relative_to(mapping_dir.resolve()):
        return path.relative_to(mapping_dir.resolve()).as_posix()
    return path.as_uri()


def load_draft(text: str, origin: str) -> MappingDocument:
    """The draft as a mapping document (the loader's limits and schema applied)."""
    return load_mapping_text(text, origin)


def preview(
    draft: Draft, records: Records, transforms: dict[str, Any], fetchers: dict[str, type]
) -> None:
    """Check the draft like any mapping and count the sampled records that would stage."""
    origin = f"draft of {draft.name}"
    try:
        doc = load_draft(draft.text, origin)
        fetcher = fetchers.get(doc.fetcher)
        if fetcher is None:
            raise MappingError(f"{origin}: fetcher {doc.fetcher} is not registered")
        check_against_fetcher(doc, fetcher)
        effective = doc.with_defaults(getattr(fetcher, "default_mapping", None) or {})
        mapping = CompiledMapping(effective, transforms)
    except MappingError as exc:
        draft.errors = [(f"the draft does not load: {exc}", draft.sampled)]
        draft.undecided.append(f"the draft does not load: {exc}")
        return
    problems: Counter[str] = Counter()
    staged = 0
    for payload in records.records:
        result = preview_record(mapping, payload, draft.name)
        if result.valid:
            staged += 1
            continue
        seen = set()
        for column in result.fields:
            for error in column.errors:
                seen.add(f"{column.field}: {_short(error)}")
        for key, message in result.other_errors:
            seen.add(f"{key}: {_short(message)}")
        problems.update(seen)
    draft.staged = staged
    draft.errors = sorted(problems.items(), key=lambda kv: (-kv[1], kv[0]))[:5]


def _short(message: str) -> str:
    """An error without its value, so that records with the same fault count together."""
    return message.split(" (value ")[0][:160]
