"""The monitor report people read: one self-contained HTML page from a check run and the alert history.

It shows every check with its verdict, the label-free accuracy estimate over time (a chart and a
table, with the measured accuracy beside it where feedback labels exist), the text drift figures with
the words and example texts that explain them, and the alerts sent or waiting. The page has no
script and loads nothing: it opens from a file, an email attachment or ``GET /monitor/report``.
Every number also sits in a ``data-value`` attribute with its full precision, so the page can be
checked against ``moodline monitor check``'s JSON.

Example::

    html = render_monitor_html(Monitor(store, settings, engine, facts).run(), store.alerts())
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any

from moodline.lifecycle.checks import CheckResult, MonitorReport, base_name
from moodline.lifecycle.store import OutboxAlert

__all__ = ["render_monitor_html"]

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 240, 40

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border-bottom: 1px solid #d5dae3; padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.fail { color: #a4161a; font-weight: 600; } .ok { color: #2b7a0b; } .insufficient_data { color: #6b7280; }
.examples li { margin: .2rem 0; } svg { max-width: 100%; height: auto; }
.band { fill: #c7d7f5; } .estimate { stroke: #1f4fb4; fill: none; stroke-width: 2; }
.measured { fill: #d97706; } .axis { stroke: #6b7280; } .label { font-size: 11px; fill: #4b5563; }
"""


def render_monitor_html(report: MonitorReport, alerts: Sequence[OutboxAlert]) -> str:
    """The whole report as one HTML document."""
    data = report.to_dict()
    model = report.model
    version = f" (registry version {escape(model.registry_version)})" if model.registry_version else ""
    estimate = next((c for c in report.checks if c.name == "estimated_accuracy"), None)
    windows: list[dict[str, Any]] = estimate.details.get("windows", []) if estimate is not None else []
    drift = [c for c in report.checks if base_name(c.name) == "text_drift"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>moodline monitor: {escape(model.name)} {escape(model.version)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Monitor report: {escape(model.name)} {escape(model.version)}{version}</h1>",
        f'<p>Checked <time id="checked-at">{escape(data["checked_at"])}</time>; '
        f'<span id="verdict" class="{"fail" if report.failing else "ok"}">'
        f"{escape(', '.join(report.failing) + ' failing') if report.failing else 'every check passes'}</span>.</p>",
        "<h2>Checks</h2>",
        _checks_table(report.checks),
        "<h2>Estimated accuracy over time</h2>",
        "<p>Estimated from the calibrated probabilities alone (no labels): the mean top probability of each "
        "window, its band, and the macro-F1 of the expected confusion matrix. Measured: accuracy on the "
        "window's predictions that received feedback labels.</p>",
        _chart(windows),
        _windows_table(windows),
        "<h2>Text drift</h2>",
        *(_drift_section(check) for check in drift),
        "<h2>Alert history</h2>",
        _alerts_table(alerts),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _number(value: float | None, digits: int = 3, css: str = "num") -> str:
    if value is None:
        return f'<td class="{css}">–</td>'
    return f'<td class="{css}" data-value="{value!r}">{value:.{digits}f}</td>'


def _checks_table(checks: Sequence[CheckResult]) -> str:
    rows = [
        "<table id=checks><thead><tr><th>check</th><th>status</th><th>value</th><th>threshold</th>"
        "<th>samples</th><th>message</th></tr></thead><tbody>"
    ]
    for check in checks:
        rows.append(
            f'<tr data-check="{escape(check.name)}"><td>{escape(check.name)}</td>'
            f'<td class="status {check.status}">{check.status.replace("_", " ")}</td>'
            f"{_number(check.value)}{_number(check.threshold)}"
            f'<td class="num" data-value="{check.samples}">{check.samples}</td><td>{escape(check.message)}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _windows_table(windows: Sequence[dict[str, Any]]) -> str:
    if not windows:
        return "<p>No complete window of predictions yet.</p>"
    rows = [
        "<table id=windows><thead><tr><th>predictions</th><th>from</th><th>to</th><th>estimated accuracy</th>"
        "<th>band low</th><th>band high</th><th>estimated macro-F1</th><th>measured accuracy</th>"
        "<th>labelled</th></tr></thead><tbody>"
    ]
    for window in windows:
        estimate, measured = window["estimate"], window["measured"]
        rows.append(
            f'<tr data-first="{window["first"]}"><td>{window["first"]}–{window["last"]}</td>'
            f"<td>{_time(window['from'])}</td><td>{_time(window['to'])}</td>"
            f"{_number(estimate['accuracy'], css='num accuracy')}{_number(estimate['accuracy_low'], css='num low')}"
            f"{_number(estimate['accuracy_high'], css='num high')}{_number(estimate['macro_f1'], css='num f1')}"
            f"{_number(measured['accuracy'] if measured else None, css='num measured')}"
            f'<td class="num">{measured["labelled"] if measured else 0}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _chart(windows: Sequence[dict[str, Any]]) -> str:
    """An inline SVG: the band as an area, the estimate as a line, measured accuracy as dots."""
    if not windows:
        return ""
    values = [w["estimate"]["accuracy_low"] for w in windows] + [w["estimate"]["accuracy_high"] for w in windows]
    values += [w["measured"]["accuracy"] for w in windows if w["measured"]]
    low, high = max(0.0, float(min(values)) - 0.05), min(1.0, float(max(values)) + 0.05)
    span = max(high - low, 1e-6)
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD

    def x(index: int) -> float:
        return CHART_PAD + (inner_w * index / (len(windows) - 1) if len(windows) > 1 else inner_w / 2)

    def y(value: float) -> float:
        return CHART_PAD + inner_h * (1 - (value - low) / span)

    upper = [f"{x(i):.1f},{y(w['estimate']['accuracy_high']):.1f}" for i, w in enumerate(windows)]
    lower = [f"{x(i):.1f},{y(w['estimate']['accuracy_low']):.1f}" for i, w in enumerate(windows)][::-1]
    line = [f"{x(i):.1f},{y(w['estimate']['accuracy']):.1f}" for i, w in enumerate(windows)]
    parts = [
        f'<svg id="estimate-chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        'aria-label="Estimated accuracy per window, with its band and the measured accuracy">',
        f'<polygon class="band" points="{" ".join(upper + lower)}"/>',
        f'<polyline class="estimate" points="{" ".join(line)}"/>',
        f'<line class="axis" x1="{CHART_PAD}" y1="{CHART_HEIGHT - CHART_PAD}" x2="{CHART_WIDTH - CHART_PAD}" '
        f'y2="{CHART_HEIGHT - CHART_PAD}"/>',
        f'<text class="label" x="4" y="{y(high) + 4:.1f}">{high:.2f}</text>',
        f'<text class="label" x="4" y="{y(low) + 4:.1f}">{low:.2f}</text>',
    ]
    for i, window in enumerate(windows):
        if window["measured"]:
            parts.append(
                f'<circle class="measured" cx="{x(i):.1f}" cy="{y(window["measured"]["accuracy"]):.1f}" r="4"/>'
            )
    parts.append(
        f'<text class="label" x="{CHART_PAD}" y="{CHART_HEIGHT - 12}">predictions {windows[0]["first"]}</text>'
        f'<text class="label" x="{CHART_WIDTH - CHART_PAD}" y="{CHART_HEIGHT - 12}" text-anchor="end">'
        f"{windows[-1]['last']}</text></svg>"
    )
    return "".join(parts)


def _drift_section(check: CheckResult) -> str:
    title = "all traffic" if check.segment is None else f"source {check.segment}"
    details = check.details
    parts = [
        f'<section class="drift" data-check="{escape(check.name)}"><h3>{escape(title)}: '
        f'<span class="{check.status}">{check.status.replace("_", " ")}</span></h3>',
        f"<p>{escape(check.message)}</p>",
    ]
    if "auc" in details:
        parts.append(
            "<table><tbody>"
            f"<tr><th>ROC-AUC, latest vs reference</th>{_number(details['auc'], css='num auc')}</tr>"
            f"<tr><th>permutation baseline, highest</th>{_number(details['permutation_max'], css='num perm')}</tr>"
            f"<tr><th>permutation p-value</th>{_number(details['permutation_p'], css='num p')}</tr>"
            "</tbody></table>"
        )
    words = details.get("recent_words") or []
    if words:
        parts.append(
            "<table class=words><thead><tr><th>word marking the latest texts</th><th>weight</th>"
            "<th>share of latest texts</th><th>share of reference texts</th></tr></thead><tbody>"
        )
        for word in words:
            parts.append(
                f"<tr><td>{escape(word['word'])}</td>{_number(word['weight'], 2)}"
                f"{_number(word['recent_share'])}{_number(word['reference_share'])}</tr>"
            )
        parts.append("</tbody></table>")
    examples = details.get("examples") or []
    if examples:
        parts.append("<p>Latest texts most unlike the reference:</p><ul class=examples>")
        parts.extend(f"<li>{escape(text)}</li>" for text in examples)
        parts.append("</ul>")
    parts.append("</section>")
    return "".join(parts)


def _alerts_table(alerts: Sequence[OutboxAlert]) -> str:
    if not alerts:
        return "<p>No alert so far.</p>"
    rows = [
        "<table id=alerts><thead><tr><th>subject</th><th>channel</th><th>status</th><th>attempts</th>"
        "<th>sent</th><th>last error</th></tr></thead><tbody>"
    ]
    for alert in reversed(alerts):  # newest first
        rows.append(
            f"<tr><td>{escape(alert.subject)}</td><td>{escape(alert.channel)}</td><td>{escape(alert.status)}</td>"
            f'<td class="num">{alert.attempts}</td><td>{_time(alert.sent_at) if alert.sent_at else "–"}</td>'
            f"<td>{escape(alert.last_error or '')}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _time(timestamp: float) -> str:
    return escape(datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds"))
