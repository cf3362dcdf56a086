"""Reports of many calls: ``calls.csv``, ``speakers.csv`` and a self-contained HTML dashboard.

All take :meth:`moodline.transcripts.collection.CallCollection.summary`. The dashboard is one HTML file
with inline SVG charts and no scripts or network requests; every name and file in it is escaped. Its
charts and tables carry stable ids and data attributes with the exact values, so the page can be read
back by a program:

- charts ``#chart-call-sentiment``, ``#chart-call-negative`` (one ``g.bar`` per analysed call) and
  ``#chart-speaker-talk``, ``#chart-speaker-sentiment`` (one per speaker), each bar with ``data-label``
  (the file or speaker) and ``data-value`` (the number; empty when unknown);
- ``#chart-speaker-emotions`` (when the calls were scored for emotions): one ``g.bar`` per speaker with
  ``data-label``, holding one ``rect`` per emotion with ``data-emotion`` and ``data-value`` (its share);
- tables ``#calls-table`` (rows ``tr[data-file]``) and ``#speakers-table`` (rows ``tr[data-speaker]``),
  cells ``td[data-column][data-value]``.

Example::

    summary = calls.summary()
    Path("dashboard.html").write_text(render_dashboard(summary))
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from moodline.core.spreadsheet import spreadsheet_row
from moodline.transcripts.report import EMOTION_COLOURS, LABEL_COLOURS

__all__ = ["render_dashboard", "render_table_csv"]

_WIDTH, _LABEL_WIDTH, _VALUE_WIDTH, _ROW = 900, 240, 60, 22


def render_table_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, raw_csv: bool = False) -> str:
    """``rows`` as CSV with a header of ``columns``; file and speaker names are neutralised unless ``raw_csv``.

    Names come from transcripts and file names, that is from whoever joined the call or named the file:
    a cell a spreadsheet would run as a formula gets a leading ``'`` (see :mod:`moodline.core.spreadsheet`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        cells = [row.get(column) for column in columns]
        writer.writerow(cells if raw_csv else spreadsheet_row(cells))
    return buffer.getvalue()


def _data_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return escape(repr(value) if isinstance(value, float) else str(value))


def _shown(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if column.endswith("_share") or column.startswith("emotion_") or column == "interactivity":
            return f"{value:.0%}"
        if column == "mean_sentiment":
            return f"{value:+.2f}"
        return f"{value:.1f}"
    return escape(str(value))


def _short(text: str, *, tail: bool, limit: int = 34) -> str:
    """``text`` cut to ``limit`` characters; a path keeps its ``tail`` (the file name), a name its start."""
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :] if tail else text[: limit - 1] + "…"


def _bar_chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    signed: bool,
    percent: bool,
    colour: str | None = None,
    paths: bool = False,
) -> str:
    """Horizontal bars, one per item; ``signed`` bars grow left or right from a zero line in [-1, 1].

    Bars are ``colour``, or without one red below zero and green above.
    """
    plot = _WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    zero = _LABEL_WIDTH + (plot / 2 if signed else 0)
    scale = plot / 2 if signed else plot
    height = _ROW * max(1, len(items)) + 10
    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" data-count="{len(items)}">',
        f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}" class="axis"/>',
    ]
    for index, (label, value) in enumerate(items):
        top = 5 + index * _ROW
        shown = "n/a" if value is None else (f"{value:.0%}" if percent else f"{value:+.2f}")
        parts.append(f'<g class="bar" data-label="{escape(label)}" data-value="{_data_value(value)}">')
        parts.append(f"<title>{escape(label)}: {shown}</title>")
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{top + 15}" class="label">{escape(_short(label, tail=paths))}</text>'
        )
        if value is not None:
            clipped = max(-1.0, min(1.0, value))
            x = zero + min(clipped, 0.0) * scale
            if colour is None:
                fill = LABEL_COLOURS["negative" if clipped < 0 else "positive"]
            else:
                fill = colour
            parts.append(
                f'<rect x="{x:.1f}" y="{top + 3}" width="{abs(clipped) * scale:.1f}" height="{_ROW - 6}" '
                f'fill="{fill}"/>'
            )
        parts.append(f'<text x="{_WIDTH - _VALUE_WIDTH + 6}" y="{top + 15}" class="value">{shown}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def _stacked_chart(chart_id: str, title: str, rows: Sequence[dict[str, Any]], emotions: Sequence[str]) -> str:
    """One bar per speaker, split into its emotion shares (columns ``emotion_<name>``), with a legend."""
    plot = _WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    height = _ROW * max(1, len(rows)) + 34
    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" data-count="{len(rows)}">'
    ]
    for index, row in enumerate(rows):
        top = 5 + index * _ROW
        label = str(row["speaker"])
        parts.append(f'<g class="bar" data-label="{escape(label)}">')
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{top + 15}" class="label">{escape(_short(label, tail=False))}</text>'
        )
        x = float(_LABEL_WIDTH)
        for emotion in emotions:
            value = row.get(f"emotion_{emotion}")
            width = (value or 0.0) * plot
            parts.append(
                f'<rect x="{x:.1f}" y="{top + 3}" width="{width:.1f}" height="{_ROW - 6}" '
                f'fill="{EMOTION_COLOURS.get(emotion, "#777")}" data-emotion="{escape(emotion)}" '
                f'data-value="{_data_value(value)}"><title>{escape(label)}: {escape(emotion)} '
                f"{'n/a' if value is None else format(value, '.0%')}</title></rect>"
            )
            x += width
        parts.append("</g>")
    legend_y = height - 10
    for index, emotion in enumerate(emotions):
        x = _LABEL_WIDTH + index * 90
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="10" height="10" fill="{EMOTION_COLOURS.get(emotion, "#777")}"/>'
            f'<text x="{x + 14}" y="{legend_y}" class="value">{escape(emotion)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _table(table_id: str, key: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(column.replace('_', ' '))}</th>" for column in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td data-column="{escape(column)}" data-value="{_data_value(row.get(column))}">'
            f"{_shown(row.get(column), column)}</td>"
            for column in columns
        )
        body.append(f'<tr data-{key}="{escape(str(row[key]))}">{cells}</tr>')
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def render_dashboard(summary: dict[str, Any]) -> str:
    """The dashboard of many calls as one HTML document with no external resources."""
    totals = summary["totals"]
    analysed = [row for row in summary["calls"] if row["status"] == "ok"]
    speakers = summary["speakers"]
    mean = "n/a" if totals["mean_sentiment"] is None else f"{totals['mean_sentiment']:+.2f}"
    negative = "n/a" if totals["negative_share"] is None else f"{totals['negative_share']:.0%}"
    failures = "".join(
        f'<li data-file="{escape(item["file"])}"><b>{escape(item["file"])}</b>: {escape(item["error"])}</li>'
        for item in summary["failures"]
    )
    failed = f'<h2>Failed files</h2><ul id="failures">{failures}</ul>' if failures else ""
    calls = [(row["file"], row["mean_sentiment"]) for row in analysed]
    call_sentiment = _bar_chart(
        "chart-call-sentiment", "Mean sentiment per call", calls, signed=True, percent=False, paths=True
    )
    call_negative = _bar_chart(
        "chart-call-negative",
        "Share of negative utterances per call",
        [(row["file"], row["negative_share"]) for row in analysed],
        signed=False,
        percent=True,
        colour=LABEL_COLOURS["negative"],
        paths=True,
    )
    speaker_talk = _bar_chart(
        "chart-speaker-talk",
        "Mean talk share per speaker",
        [(row["speaker"], row["mean_talk_share"]) for row in speakers],
        signed=False,
        percent=True,
        colour="#1f77b4",
    )
    speaker_sentiment = _bar_chart(
        "chart-speaker-sentiment",
        "Mean sentiment per speaker",
        [(row["speaker"], row["mean_sentiment"]) for row in speakers],
        signed=True,
        percent=False,
    )
    emotions = [c.removeprefix("emotion_") for c in summary["columns"]["speakers"] if c.startswith("emotion_")]
    speaker_emotions = (
        "<h2>Emotions per speaker</h2><p class='muted'>Share of each speaker's utterances by top emotion, "
        "weighted by utterances across calls.</p>"
        + _stacked_chart("chart-speaker-emotions", "Emotions per speaker", speakers, emotions)
        if emotions
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conversation sentiment across {totals["calls"]} calls</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
svg {{ width: 100%; height: auto; background: #fafafa; border: 1px solid #eee; }}
.axis {{ stroke: #bbb; stroke-dasharray: 4 4; }}
.label {{ font-size: 12px; text-anchor: end; fill: #333; }} .value {{ font-size: 12px; fill: #555; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
td, th {{ padding: 4px 6px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }}
.muted {{ color: #777; }}
</style></head><body>
<h1>Conversation sentiment across calls</h1>
<p id="totals" data-calls="{totals["calls"]}" data-failed="{totals["failed"]}" data-speakers="{totals["speakers"]}">
{totals["calls"]} calls analysed ({totals["failed"]} failed), {totals["utterances"]} utterances,
{totals["speakers"]} speakers, {_duration(totals["duration_seconds"])} of timed conversation.
Mean sentiment {mean}; negative {negative} of utterances.</p>
{failed}
<h2>Mean sentiment per call</h2>
{call_sentiment}
<h2>Negative share per call</h2>
{call_negative}
<h2>Talk share per speaker</h2>
<p class="muted">Mean over the calls each speaker is in.</p>
{speaker_talk}
<h2>Mean sentiment per speaker</h2>
<p class="muted">Weighted by each speaker's utterances.</p>
{speaker_sentiment}
{speaker_emotions}
<h2>Calls</h2>
{_table("calls-table", "file", summary["calls"], summary["columns"]["calls"])}
<h2>Speakers</h2>
{_table("speakers-table", "speaker", speakers, summary["columns"]["speakers"])}
</body></html>
"""
