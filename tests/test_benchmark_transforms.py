"""``python -m benchmarks.transforms`` measures the work it names: every record of each
feed mapped, validated and hashed (the counts are checked here, never the timings)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_the_benchmark_maps_every_record_of_each_feed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.transforms", "--rounds", "1", "--copies", "3",
         "--synthetic", "2600"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == [
        "feed", "records", "invalid", "map+validate+hash/s", "baseline/s", "ratio", "peak",
        "RSS", "MB",
    ]  # fmt: skip
    counts = {line.split()[0]: tuple(line.split()[1:3]) for line in lines}
    assert counts == {
        "odh-events": ("100", "0"),
        "datatourisme-poi": ("3", "0"),
        "failte-ireland-attractions": ("3,324", "0"),
        "synthetic": ("2,600", "1"),  # datagen breaks record 2500 (latitude out of range)
    }
    for line in lines:
        records_per_second, baseline, ratio, rss = line.split()[3:]
        assert float(records_per_second.replace(",", "")) > 0
        assert float(baseline.replace(",", "")) > 0
        assert float(ratio) > 0 and float(rss) > 0
