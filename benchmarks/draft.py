"""How good are drafted mappings? ``python -m benchmarks.draft``

For every feed of the corpus (``tests/fixtures/draft_corpus/*/``: a real feed and the mapping
an expert wrote for it by hand, ``expert.yaml``), drafts a mapping from the feed as
``dmo-pipeline new-source NAME --from FILE`` does and compares it with the expert's, field
by field, on the same records (:mod:`pipeline_core.drafting.compare`). Prints per feed the
share of the expert's fields the draft got right, wrong and missing, and the share of the
sample the draft stages unedited; then the totals over the corpus, against the targets
(at least 80 % right, at most 5 % wrong, every draft staging at least 95 %).

``--show NAME`` prints that feed's draft and its field lists.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline_core.drafting.check import Draft, draft_source
from pipeline_core.drafting.compare import Comparison, compare
from pipeline_core.drafting.sample import fetch_sample, read_records
from pipeline_core.mapping.document import load_mapping_file, load_mapping_text
from pipeline_core.plugins import get_plugin_manager

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "draft_corpus"
SAMPLE = 300
_FORMATS = {"json_api": "json", "xml_feed": "xml", "csv_feed": "csv", "jsonld": "jsonld"}


@dataclass
class FeedResult:
    """One feed's draft and its comparison with the expert's mapping."""

    name: str
    fmt: str
    draft: Draft
    comparison: Comparison
    seconds: float


def feeds(corpus: Path = CORPUS) -> list[Path]:
    """The corpus folders (each with ``expert.yaml`` and one feed file)."""
    return sorted(p for p in corpus.iterdir() if (p / "expert.yaml").is_file())


def feed_file(folder: Path) -> Path:
    """The feed of a corpus folder: the file the expert mapping's ``url`` names."""
    expert = load_mapping_file(folder / "expert.yaml")
    return folder / str(expert.doc["url"])


def run_feed(folder: Path, sample: int = SAMPLE) -> FeedResult:
    """Draft the feed of ``folder`` and compare the draft with the expert's mapping."""
    pm = get_plugin_manager()
    transforms, fetchers = pm.transforms(), pm.fetchers()
    expert = load_mapping_file(folder / "expert.yaml")
    path = feed_file(folder)
    started = time.perf_counter()
    draft = draft_source(
        folder.name, str(path), sample_size=sample, transforms=transforms, fetchers=fetchers
    )
    seconds = time.perf_counter() - started
    fmt = _FORMATS[expert.fetcher]
    records_path = expert.doc.get("records") if fmt in ("json", "xml") else None
    records = read_records(fetch_sample(str(path)), fmt, sample, records_path).records
    drafted = load_mapping_text(draft.text, f"draft of {folder.name}")
    comparison = compare(expert, drafted, records, transforms, fetchers)
    return FeedResult(folder.name, fmt, draft, comparison, seconds)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    - "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.draft", description=__doc__)
    parser.add_argument("--show", metavar="NAME", help="print this feed's draft and fields")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="records drafted from")
    args = parser.parse_args(argv)
    results = [run_feed(folder, args.sample) for folder in feeds()]
    print(
        f"{'feed':32} {'fmt':6} {'fields':>6} {'right':>8} {'wrong':>8} {'missing':>8} "
        f"{'staged':>8} {'seconds':>7}"
    )
    right = wrong = missing = 0
    for r in results:
        c = r.comparison
        right, wrong, missing = right + len(c.right), wrong + len(c.wrong), missing + len(c.missing)
        print(
            f"{r.name:32} {r.fmt:6} {c.total:6} {_pct(len(c.right), c.total):>8} "
            f"{_pct(len(c.wrong), c.total):>8} {_pct(len(c.missing), c.total):>8} "
            f"{r.draft.share_staged * 100:7.1f} % {r.seconds:7.2f}"
        )
    total = right + wrong + missing
    lowest = min(r.draft.share_staged for r in results)
    print(
        f"{'corpus (' + str(len(results)) + ' feeds)':39} {total:6} {_pct(right, total):>8} "
        f"{_pct(wrong, total):>8} {_pct(missing, total):>8} {lowest * 100:7.1f} % (lowest)"
    )
    print(
        "targets: right >= 80 %: "
        + ("met" if total and right >= 0.8 * total else "NOT met")
        + "; wrong <= 5 %: "
        + ("met" if total and wrong <= 0.05 * total else "NOT met")
        + "; every draft stages >= 95 %: "
        + ("met" if lowest >= 0.95 else "NOT met")
    )
    for r in results:
        if args.show in (r.name, "all"):
            print(f"\n== {r.name}\n{r.draft.text}")
            print("right:", ", ".join(r.comparison.right))
            print("wrong:", ", ".join(r.comparison.wrong))
            print("missing:", ", ".join(r.comparison.missing))
            print("\n".join(r.draft.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
