"""The draft mapping as YAML text: one proposal a line, each with its reason."""

from __future__ import annotations

from typing import Any

import yaml

from pipeline_core.drafting.recognise import Plan

_FETCHERS = {
    "json": "json_api",
    "jsonld": "jsonld",
    "html": "jsonld",
    "xml": "xml_feed",
    "csv": "csv_feed",
}


def flow(value: Any) -> str:
    """A YAML flow value on one line (keys and text quoted where YAML needs it)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=1_000_000, sort_keys=False
    ).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    return text.removesuffix("...").strip()


def _line(key: str, value: Any, why: str, indent: str = "") -> str:
    return f"{indent}{flow(key) if key != '$' else '$'}: {flow(value)}" + (
        f"  # {why}" if why else ""
    )


def compose(
    name: str,
    dmo: str,
    fmt: str,
    url: str,
    records_path: str | None,
    options: dict[str, Any],
    pagination: dict[str, Any],
    pagination_why: str,
    plan: Plan,
    header: list[str],
) -> str:
    """The mapping document's text."""
    lines = [f"# Draft mapping written by `dmo-pipeline new-source {name} --from …`.", *header]
    lines.append("# Every line is a proposal: check it against the feed, then delete this note.")
    lines.append(_line("source", name, ""))
    lines.append(_line("dmo", dmo, ""))
    why = "schema.org items in HTML pages" if fmt == "html" else f"the feed is {fmt}"
    lines.append(_line("fetcher", _FETCHERS[fmt], why))
    lines.append(_line("url", url, ""))
    if records_path is not None:
        why = "the record element" if fmt == "xml" else "the list of records"
        lines.append(_line("records", records_path, why))
    if plan.id_path is not None:
        lines.append(_line("id", plan.id_path, plan.id_why))
    elif plan.key_paths:
        lines.append(_line("key", plan.key_paths, plan.id_why))
    if options:
        lines.append(_line("options", options, "detected in the sample"))
    if pagination.get("type") != "none":
        lines.append(_line("pagination", pagination, pagination_why))
    else:
        lines.append(f"# pagination: none ({pagination_why})")
    if plan.defaults:
        lines.append(_line("defaults", plan.defaults, "; ".join(plan.defaults_why)))
    lines.append(
        "# licence: {name: …, url: …, attribution: …}  # the feed does not say; ask the publisher"
    )
    lines.append("fields:")
    for proposal in plan.fields:
        lines.append(_line(proposal.target, proposal.spec, proposal.why, "  "))
    if plan.unmapped:
        lines.append("# not mapped (source path: first value):")
        for path, example in plan.unmapped:
            shown = " ".join(example.split())
            lines.append(f"#   {path}: {shown}")
    if plan.undecided:
        lines.append("# could not decide:")
        for item in plan.undecided:
            lines.append(f"#   {item}")
    return "\n".join(lines) + "\n"
