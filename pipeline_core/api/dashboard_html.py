"""The dashboard's HTML: the page, its panels and their small SVG charts, from an
:class:`~pipeline_core.operations.overview.Overview`. Every value is escaped here; every
figure carries ``data-metric="name"`` so a test (or a script) can read it."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from pipeline_core.operations.overview import CRAWL_COUNTS, DEPTH_STATES, WINDOW, Overview

#: Colours of the states (the same in the page's CSS).
STATE_COLOURS = {
    "queued": "#6b7280",
    "running": "#2563eb",
    "completed": "#16a34a",
    "failed": "#d97706",
    "dead": "#dc2626",
}


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _num(metric: str, value: Any, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<td{cls} data-metric="{escape(metric)}">{_e(value)}</td>'


def _stacked_bar(states: dict[str, int], width: int = 100) -> str:
    """One horizontal bar of a job type's jobs by state (dead ones inside failed).

    Drawn in a ``width``-wide view box and stretched to the width of its cell, so it never
    pushes the table past its panel.
    """
    parts = {s: states.get(s, 0) for s in ("queued", "running", "completed")}
    parts["failed"] = states.get("failed", 0) - states.get("dead", 0)
    parts["dead"] = states.get("dead", 0)
    total = sum(parts.values()) or 1
    x = 0.0
    rects = []
    for state, count in parts.items():
        if not count:
            continue
        w = width * count / total
        rects.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="14" fill="{STATE_COLOURS[state]}">'
            f"<title>{state}: {count}</title></rect>"
        )
        x += w
    return (
        f'<svg class="bar" viewBox="0 0 {width} 14" preserveAspectRatio="none" height="8" '
        'role="img" aria-label="jobs by state">' + "".join(rects) + "</svg>"
    )


def _sparkline(values: list[int], width: int = 360, height: int = 48) -> str:
    """Columns of completed attempts per minute, the last hour (oldest left)."""
    top = max(values) or 1
    w = width / len(values)
    bars = []
    for i, v in enumerate(values):
        h = (height - 2) * v / top
        bars.append(
            f'<rect x="{i * w:.1f}" y="{height - h:.1f}" width="{max(w - 1, 1):.1f}" '
            f'height="{h:.1f}"><title>{60 - i} min ago: {v}</title></rect>'
        )
    return (
        f'<svg class="spark" width="{width}" height="{height + 1}" role="img" '
        f'aria-label="completed per minute, last hour">'
        + "".join(bars)
        + f'<line x1="0" y1="{height + 0.5}" x2="{width}" y2="{height + 0.5}"/></svg>'
        '<div class="axis"><span>60 min ago</span><span>now</span></div>'
    )


def _pct_bar(value: float, width: int = 100) -> str:
    w = width * value / 100
    return (
        f'<svg class="pct" width="{width}" height="10"><rect width="{width}" height="10" '
        f'fill="#fde2e2"/><rect width="{w:.1f}" height="10" fill="#16a34a"/></svg>'
    )


def queue_panel(o: Overview) -> str:
    tiles = "".join(
        f'<div class="tile {s}"><span class="n" data-metric="total.{s}">{o.totals.get(s, 0)}'
        f'</span><span class="l">{"dead letters" if s == "dead" else s}</span></div>'
        for s in DEPTH_STATES
    )
    head = "".join(f"<th>{s}</th>" for s in DEPTH_STATES)
    span = len(DEPTH_STATES) + 1
    rows = "".join(
        f'<tr class="type"><th>{_e(t)}</th>'
        + "".join(_num(f"depth.{t}.{s}", states[s], "n") for s in DEPTH_STATES)
        + f'</tr><tr class="bar"><td colspan="{span}">{_stacked_bar(states)}</td></tr>'
        for t, states in o.depth.items()
    )
    empty = "" if o.depth else f'<tr><td colspan="{span}" class="none">no jobs</td></tr>'
    return (
        f'<h2>Queue</h2><div class="tiles">{tiles}</div>'
        f"<table><tr><th>type</th>{head}</tr>{rows}{empty}</table>"
    )


def rate_panel(o: Overview) -> str:
    return (
        "<h2>Processing rate</h2>"
        '<div class="rates">'
        f'<div><span class="n" data-metric="rate.5m">{o.rate_5m}</span>'
        '<span class="l">completed / min, last 5 min</span></div>'
        f'<div><span class="n" data-metric="rate.60m">{o.rate_60m}</span>'
        '<span class="l">completed / min, last hour</span></div></div>'
        f"{_sparkline(o.per_minute)}"
    )


def outcomes_panel(o: Overview) -> str:
    rows = "".join(
        f"<tr><th>{_e(t)}</th>"
        + _num(f"outcomes.{t}.completed", v["completed"], "n")
        + _num(f"outcomes.{t}.failed", v["failed"], "n")
        + _num(f"outcomes.{t}.success", f"{v['success']:.1f}%", "n")
        + f"<td>{_pct_bar(v['success'])}</td></tr>"
        for t, v in o.outcomes.items()
    )
    empty = "" if o.outcomes else '<tr><td colspan="5" class="none">no attempts</td></tr>'
    return (
        f"<h2>Outcomes by job type <small>attempts, last {_window()}</small></h2>"
        "<table><tr><th>type</th><th>completed</th><th>failed</th><th>success</th><th></th></tr>"
        f"{rows}{empty}</table>"
    )


def durations_panel(o: Overview) -> str:
    top = max((v["p99"] for v in o.durations.values()), default=0) or 1
    rows = []
    for t, v in o.durations.items():
        bar = (
            f'<svg class="pct" width="120" height="10"><rect width="{120 * v["p99"] / top:.1f}" '
            f'height="10" fill="#93c5fd"/><rect width="{120 * v["p50"] / top:.1f}" height="10" '
            f'fill="#2563eb"/></svg>'
        )
        rows.append(
            f"<tr><th>{_e(t)}</th>"
            + _num(f"durations.{t}.n", v["n"], "n")
            + "".join(_num(f"durations.{t}.p{p}", v[f"p{p}"], "n") for p in (50, 95, 99))
            + f"<td>{bar}</td></tr>"
        )
    empty = "" if rows else '<tr><td colspan="6" class="none">no completed attempts</td></tr>'
    return (
        f"<h2>Processing time, ms <small>completed attempts, last {_window()}</small></h2>"
        "<table><tr><th>type</th><th>n</th><th>p50</th><th>p95</th><th>p99</th><th></th></tr>"
        f"{''.join(rows)}{empty}</table>"
    )


def errors_panel(o: Overview) -> str:
    rows = "".join(
        f"<tr><td>{_e(stage)}</td><td>{_e(source)}</td>"
        + _num(f"errors.{stage}.{source}", n, "n")
        + "</tr>"
        for stage, source, n in o.errors
    )
    empty = "" if o.errors else '<tr><td colspan="3" class="none">no errors</td></tr>'
    return (
        f"<h2>Errors by stage and source <small>last {_window()}</small></h2>"
        "<table><tr><th>stage</th><th>source</th><th>errors</th></tr>"
        f"{rows}{empty}</table>"
    )


def crawls_panel(o: Overview) -> str:
    head = "".join(f"<th>{c}</th>" for c in CRAWL_COUNTS)
    rows = "".join(
        f"<tr><th>{_e(c['source'])}</th><td>{_when(c['finished_at'] or c['started_at'])}</td>"
        f'<td class="{"ok" if c["complete"] else "warn"}">{_e(c["finish_reason"])}</td>'
        + "".join(_num(f"crawl.{c['source']}.{name}", c[name], "n") for name in CRAWL_COUNTS)
        + "</tr>"
        for c in o.crawls
    )
    empty = "" if o.crawls else '<tr><td colspan="9" class="none">no crawls</td></tr>'
    return (
        "<h2>Last crawl of each source</h2>"
        f"<table><tr><th>source</th><th>finished</th><th>reason</th>{head}</tr>"
        f"{rows}{empty}</table>"
    )


def dead_panel(o: Overview, csrf: str | None) -> str:
    rows = []
    for row in o.dead:
        source = row.payload.get("source") if isinstance(row.payload, dict) else None
        button = (
            f'<form method="post" action="/dashboard/jobs/{row.id}/retry">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<button type="submit" data-retry="{row.id}">Retry</button></form>'
            if csrf
            else ""
        )
        rows.append(
            f'<tr data-dead="{row.id}"><td>{row.id}</td><td>{_e(row.type)}</td>'
            f"<td>{_e(source)}</td><td>{row.attempts}</td><td>{_when(row.finished_at)}</td>"
            f'<td class="err">{_e((row.last_error or "")[:200])}</td><td>{button}</td></tr>'
        )
    empty = "" if rows else '<tr><td colspan="7" class="none">no dead letters</td></tr>'
    note = "" if csrf else '<p class="note">Retrying needs an operator key.</p>'
    return (
        f'<h2>Dead letters <small data-metric="dead.total">{o.dead_total}</small></h2>{note}'
        "<table><tr><th>job</th><th>type</th><th>source</th><th>attempts</th><th>failed</th>"
        f"<th>last error</th><th></th></tr>{''.join(rows)}{empty}</table>"
    )


def _window() -> str:
    return f"{int(WINDOW.total_seconds() // 3600)} h"


def panels(o: Overview, csrf: str | None) -> dict[str, str]:
    """The inner HTML of each panel, by its element id (the live update swaps them)."""
    return {
        "panel-queue": queue_panel(o),
        "panel-rate": rate_panel(o),
        "panel-outcomes": outcomes_panel(o),
        "panel-durations": durations_panel(o),
        "panel-errors": errors_panel(o),
        "panel-crawls": crawls_panel(o),
        "panel-dead": dead_panel(o, csrf),
    }


#: Panels two grid columns wide (their tables have many columns).
_SPAN2 = ("panel-crawls", "panel-dead")


def _shell(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/dashboard/static/dashboard.css"></head>'
        f"<body>{body}</body></html>"
    )


def page(o: Overview, csrf: str | None, who: str, flash: str | None = None) -> str:
    """The whole dashboard."""
    sections = "".join(
        f'<section id="{pid}" class="panel{" span2" if pid in _SPAN2 else ""}">{html}</section>'
        for pid, html in panels(o, csrf).items()
    )
    notice = f'<p class="flash">{escape(flash)}</p>' if flash else ""
    body = (
        f'<header><h1>dmo-pipeline</h1><span class="who">{escape(who)}</span>'
        f'<span id="live-status" class="status">connecting…</span>'
        '<form method="post" action="/dashboard/logout"><button>Log out</button></form></header>'
        f'{notice}<main data-last-event-id="{o.last_event_id}">{sections}'
        '<section id="panel-live" class="panel wide"><h2>Live jobs</h2>'
        "<table><thead><tr><th>event</th><th>job</th><th>type</th><th>source</th><th>dmo</th>"
        '<th>attempt</th><th>state</th><th>ms</th><th>at</th></tr></thead><tbody id="live">'
        "</tbody></table></section></main>"
        '<script src="/dashboard/static/dashboard.js"></script>'
    )
    return _shell("dmo-pipeline dashboard", body)


def login_page(error: str | None = None) -> str:
    """The login form: an API key, sent once by POST and kept in an HttpOnly cookie."""
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        '<main class="login"><h1>dmo-pipeline</h1><form method="post" action="/dashboard/login">'
        '<label for="key">API key</label>'
        '<input id="key" name="key" type="password" autocomplete="off" required>'
        f'<button type="submit">Log in</button>{problem}</form>'
        "<p>Any viewer key opens the dashboard; retrying a dead letter needs an operator key. "
        "A key of one DMO shows that DMO only.</p></main>"
    )
    return _shell("dmo-pipeline: log in", body)
