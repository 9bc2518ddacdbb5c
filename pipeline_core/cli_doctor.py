"""``dmo-pipeline doctor``: check the setup and say what to fix."""

from __future__ import annotations

import sys

import click
import orjson


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the checks and `ok`.")
def doctor(as_json: bool) -> None:
    """Check the setup: database reachable and migrated, queue mode (and SQS with its
    redrive policy), storage writable, plugins and sources loaded, no job running past its
    lease, no dead letters waiting, no source's scrape overdue. Each failure says what to
    fix; the exit code is 0 only when every check passes."""
    from pipeline_core.config import load_settings
    from pipeline_core.operations.doctor import exit_code, run_checks

    checks = run_checks(load_settings())
    code = exit_code(checks)
    if as_json:
        document = {"ok": code == 0, "checks": [c.as_json() for c in checks]}
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        sys.exit(code)
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if not check.ok:
            click.echo(f"     fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    click.echo("all checks passed" if not failed else f"{failed} check(s) failed")
    sys.exit(code)
