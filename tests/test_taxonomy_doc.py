"""The taxonomy's terms are in the docs, as the file says (the table is generated)."""

from __future__ import annotations

from conftest import ROOT

from pipeline_core.builtin.taxonomy import taxonomy
from pipeline_core.builtin.taxonomy_doc import taxonomy_section, taxonomy_table


def test_the_taxonomy_page_holds_the_generated_table() -> None:
    page = (ROOT / "docs" / "reference" / "taxonomy.md").read_text("utf-8")
    assert taxonomy_section() in page, (
        "docs/reference/taxonomy.md is out of date: "
        "python -m pipeline_core.builtin.taxonomy_doc prints its table"
    )


def test_the_table_has_a_row_per_term_with_its_category_and_names() -> None:
    rows = taxonomy_table().splitlines()[2:]
    assert len(rows) == len(taxonomy())
    assert (
        "| `museum` | `attraction` | `Museum`, `museums`, `musée`, `museo`, `Museen`, "
        "`schema:Museum` |" in rows
    )
    assert "| `music_dance` | `event` | `Musik/Tanz`, `concert`," in "\n".join(rows)
