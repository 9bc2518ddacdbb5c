"""The README opens with the two commands; CI runs the second word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_install_and_test_commands() -> None:
    first, second = readme_commands()[:2]
    assert first.endswith("pip install -q -e . && dmo-pipeline quickstart")
    assert second.endswith("-e ./plugins/dmo-pipeline-example && pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert readme_commands()[1] in ci
