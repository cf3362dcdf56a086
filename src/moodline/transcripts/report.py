"""Reports of conversation insights: a self-contained HTML page (inline SVG, no network), PNG charts and CSV.

All take the dictionary of :meth:`moodline.transcripts.insights.ConversationInsights.to_dict`.

Example::

    insights = analyse(read_transcript("call.vtt"), ThreeWayScorer(Engine.load())).to_dict()
    Path("call.html").write_text(render_html(insights))
"""

from __future__ import annotations

import csv
import io
from html import escape
from pathlib import Path
from typing import Any

from moodline.core.spreadsheet import spreadsheet_row

__all__ = [
    "CSV_COLUMNS",
    "EMOTION_COLOURS",
    "EMOTION_CSV_COLUMNS",
    "SEGMENT_CSV_COLUMNS",
    "csv_columns",
    "render_csv",
    "render_html",
    "render_segments_csv",
    "write_pngs",
]

CSV_COLUMNS = ("position", "turn_index", "speaker", "start", "end", "label", "sentiment", "text")
# Inserted before "text" when emotions were scored, so that the free text stays the last column.
EMOTION_CSV_COLUMNS = ("emotion", "emotion_score")
# One row per quote: a segment's own columns repeat on each of its (one to three) quotes.
SEGMENT_CSV_COLUMNS = (
    "segment",
    "kind",
    "start",
    "end",
    "first_position",
    "last_position",
    "utterances",
    "speakers",
    "mean_sentiment",
    "strength",
    "quote_position",
    "quote_speaker",
    "quote_start",
    "quote_sentiment",
    "quote_text",
)

# Speaker colours avoid red and green, which mark negative and positive utterances.
PALETTE = ("#1f77b4", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#393b79")
LABEL_COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
EMOTION_COLOURS = {
    "joy": "#f2b701",
    "surprise": "#17becf",
    "anger": "#d62728",
    "sadness": "#1f77b4",
    "fear": "#9467bd",
    "disgust": "#8c564b",
    "neutral": "#c7c7c7",
}
WIDTH, HEIGHT, PAD = 900, 320, 48


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def _timeline_svg(insights: dict[str, Any]) -> str:
    utterances = insights["utterances"]
    count = max(2, len(utterances))

    def x(position: float) -> float:
        return PAD + position * (WIDTH - 2 * PAD) / (count - 1)

    def y(value: float) -> float:
        return PAD / 2 + (1 - value) * (HEIGHT - PAD) / 2

    parts = [
        f'<svg id="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Sentiment over time per speaker">',
        f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}" class="axis"/>',
    ]
    for value in (1, -1):
        parts.append(f'<text x="4" y="{y(value) + 4:.1f}" class="tick">{value:+d}</text>')
    overall = insights["timeline"]["overall"]
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(overall))
    parts.append(f'<polyline points="{points}" class="overall"><title>all speakers (rolling)</title></polyline>')
    for index, (speaker, series) in enumerate(insights["timeline"]["per_speaker"].items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x(p):.1f},{y(v):.1f}" for p, v in zip(series["positions"], series["values"], strict=True))
        parts.append(
            f'<polyline class="series" data-speaker="{escape(speaker)}" points="{points}" '
            f'stroke="{colour}"><title>{escape(speaker)}</title></polyline>'
        )
    for u in utterances:
        felt = f" [{u['emotion']}]" if u.get("emotion") else ""
        tip = f"{u['speaker']} {_clock(u['start'])}{felt}: {u['text']}"
        parts.append(
            f'<circle cx="{x(u["position"]):.1f}" cy="{y(u["sentiment"]):.1f}" r="3.5" '
            f'fill="{LABEL_COLOURS[u["label"]]}"><title>{escape(tip)}</title></circle>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _speaker_bars(insights: dict[str, Any]) -> str:
    rows = []
    for index, s in enumerate(insights["speakers"]):
        shares = s["label_shares"]
        segments = "".join(
            f'<span class="seg" style="width:{shares[label] * 100:.1f}%;background:{LABEL_COLOURS[label]}" '
            f'title="{label} {shares[label]:.0%}"></span>'
            for label in ("negative", "neutral", "positive")
        )
        rows.append(
            f'<tr><td><span class="dot" style="background:{PALETTE[index % len(PALETTE)]}"></span>'
            f"{escape(s['speaker'])}</td><td>{s['turns']}</td><td>{s['talk_share']:.0%}</td>"
            f"<td>{s['mean_sentiment']:+.2f}</td><td>{s['trajectory']['delta']:+.2f}</td>"
            f'<td class="bar">{segments}</td></tr>'
        )
    return (
        "<table><thead><tr><th>speaker</th><th>turns</th><th>talk</th><th>mean</th><th>first→last third</th>"
        "<th>negative / neutral / positive</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _moments(items: list[dict[str, Any]], empty: str) -> str:
    if not items:
        return f"<p class='muted'>{empty}</p>"
    return (
        "<ul>"
        + "".join(
            f'<li><b>{escape(m["speaker"])}</b> <span class="muted">{_clock(m.get("start"))}</span> '
            f'<span class="score">{m.get("sentiment", m.get("change", 0.0)):+.2f}</span><br>“{escape(m["quote"])}”</li>'
            for m in items
        )
        + "</ul>"
    )


def _figure(value: float | None, form: str) -> str:
    """``value`` formatted, or a dash where the transcript's timings could not give it."""
    return "–" if value is None else format(value, form)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} s" if value < 60 else _clock(value)


def _plural(count: int, noun: str, ending: str = "s") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{ending}"


def _metrics_section(insights: dict[str, Any]) -> str:
    """Call figures in a sentence, then one table row per speaker."""
    metrics = insights.get("conversation_metrics")
    if not metrics:
        return "<p class='muted'>No conversation metrics.</p>"
    call = metrics["call"]
    counts = (
        f"{_plural(call['turns'], 'turn')}, {_plural(call['speaker_switches'], 'speaker switch', 'es')}, "
        f"{_plural(call['questions'], 'question')}"
    )
    if metrics["timed"]:
        lead = (
            f"{_clock(call['duration_seconds'])} long; someone is speaking {1 - call['silence_share']:.0%} of it "
            f"(silence {call['silence_share']:.0%}); {counts} ({call['interactivity']:.1f} switches a minute); "
            f"{_plural(call['interruptions'], 'interruption')}."
        )
    else:
        lead = f"{counts}. <span class='muted'>Time-based figures: {escape(metrics['reason'])}.</span>"
    rows = []
    for name, s in metrics["speakers"].items():
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{_seconds(s['talk_seconds'])}</td>"
            f"<td>{_figure(s['talk_share'], '.0%')}</td><td>{s['words']}</td>"
            f"<td>{_figure(s['words_per_minute'], '.0f')}</td><td>{_seconds(s['longest_monologue_seconds'])}</td>"
            f"<td>{s['turns']}</td><td>{s['questions']}</td><td>{_figure(s['interruptions'], 'd')}</td>"
            f"<td>{_figure(s['mean_response_gap_seconds'], '.1f')} / "
            f"{_figure(s['median_response_gap_seconds'], '.1f')}</td></tr>"
        )
    return (
        f'<p id="call-metrics">{lead}</p><table id="speaker-metrics"><thead><tr><th>speaker</th><th>talk</th>'
        "<th>share</th><th>words</th><th>words/min</th><th>longest turn</th><th>turns</th><th>questions</th>"
        "<th>interruptions</th><th>response gap s (mean / median)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _when(segment: dict[str, Any]) -> str:
    if segment["start"] is None or segment["end"] is None:
        return ""
    return f"{_clock(segment['start'])}–{_clock(segment['end'])}, "


def _segments(insights: dict[str, Any]) -> str:
    segments = insights.get("segments") or []
    if not segments:
        return "<p class='muted'>No stretch of the call stayed clearly negative or positive.</p>"
    items = []
    for segment in segments:
        quotes = "".join(
            f'<li><b>{escape(q["speaker"])}</b> <span class="muted">{_clock(q["start"])}</span> '
            f'<span class="score">{q["sentiment"]:+.2f}</span> “{escape(q["text"])}”</li>'
            for q in segment["quotes"]
        )
        items.append(
            f'<li class="segment {segment["kind"]}"><b>{segment["kind"].capitalize()}</b> '
            f'<span class="muted">{_when(segment)}utterances {segment["first_position"]}–'
            f"{segment['last_position']} ({segment['utterances']}), "
            f"{escape(', '.join(segment['speakers']))}</span> "
            f'<span class="score">mean {segment["mean_sentiment"]:+.2f}</span><ul>{quotes}</ul></li>'
        )
    return '<ol id="segments">' + "".join(items) + "</ol>"


def _emotion_bar(shares: dict[str, float], labels: list[str]) -> str:
    """One stacked bar of emotion shares; each piece says its emotion and share on hover."""
    return "".join(
        f'<span class="seg" style="width:{shares[e] * 100:.1f}%;background:{EMOTION_COLOURS.get(e, "#777")}" '
        f'title="{e} {shares[e]:.0%}"></span>'
        for e in labels
        if shares[e] > 0
    )


def _emotions_section(insights: dict[str, Any]) -> str:
    """Per speaker emotion shares (stacked bars) and the emotions over the call (a stacked bar per window)."""
    emotions = insights.get("emotions")
    if not emotions:
        return "<p class='muted'>Emotions were not scored (--no-emotions).</p>"
    labels = emotions["labels"]
    legend = " ".join(
        f'<span class="dot" style="background:{EMOTION_COLOURS.get(e, "#777")}"></span>{e}' for e in labels
    )
    overall = ", ".join(f"{e} {emotions['overall'][e]:.0%}" for e in labels if emotions["overall"][e] > 0)
    rows = [
        f"<tr><td>{escape(name)}</td><td>{s['dominant']}</td><td>{s['utterances']}</td>"
        f'<td class="bar">{_emotion_bar(s["shares"], labels)}</td></tr>'
        for name, s in emotions["speakers"].items()
    ]
    windows = emotions["timeline"]
    width = (WIDTH - 2 * PAD) / max(1, len(windows))
    height = 140
    bars = []
    for index, window in enumerate(windows):
        top = 10.0
        for e in labels:
            piece = window["shares"][e] * height
            if piece > 0:
                when = f" {_clock(window['start'])}–{_clock(window['end'])}" if window["start"] is not None else ""
                bars.append(
                    f'<rect x="{PAD + index * width:.1f}" y="{top:.1f}" width="{width * 0.9:.1f}" '
                    f'height="{piece:.1f}" fill="{EMOTION_COLOURS.get(e, "#777")}"><title>utterances '
                    f"{window['first_position']}–{window['last_position']}{when}: {e} "
                    f"{window['shares'][e]:.0%}</title></rect>"
                )
                top += piece
    timeline = (
        f'<svg id="emotion-timeline" viewBox="0 0 {WIDTH} {height + 20}" role="img" '
        f'aria-label="Emotions over time">{"".join(bars)}</svg>'
    )
    return (
        f'<p id="emotion-overall">Overall: {overall}.</p><p class="muted">{legend}</p>'
        '<table id="speaker-emotions"><thead><tr><th>speaker</th><th>dominant</th><th>utterances</th>'
        f"<th>emotions</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<h3>Emotions over the call</h3><p class="muted">Shares in {len(windows)} consecutive stretches of '
        f"utterances, start to end (hover for the figures).</p>{timeline}"
    )


def _utterance_table(insights: dict[str, Any]) -> str:
    """Every utterance with its sentiment (and emotion, when scored), folded away by default."""
    scored = insights.get("emotions") is not None
    rows = []
    for u in insights["utterances"]:
        emotion = f"<td>{u['emotion']} {u['emotion_score']:.2f}</td>" if scored else ""
        rows.append(
            f"<tr><td>{u['position']}</td><td>{_clock(u['start'])}</td><td>{escape(u['speaker'])}</td>"
            f'<td style="color:{LABEL_COLOURS[u["label"]]}">{u["label"]} {u["sentiment"]:+.2f}</td>'
            f"{emotion}<td>{escape(u['text'])}</td></tr>"
        )
    head = "<th>emotion</th>" if scored else ""
    return (
        f'<details><summary>All {len(rows)} utterances</summary><table id="utterances"><thead><tr><th>#</th>'
        f"<th>time</th><th>speaker</th><th>sentiment</th>{head}<th>text</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )


def render_html(insights: dict[str, Any]) -> str:
    """The whole report as one HTML document with no external resources."""
    summary = insights["summary"]
    duration = f", {_clock(summary['duration'])} long" if summary.get("duration") else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conversation sentiment: {escape(insights["source"])}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 960px; padding: 0 16px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
svg {{ width: 100%; height: auto; background: #fafafa; border: 1px solid #eee; }}
.axis {{ stroke: #bbb; stroke-dasharray: 4 4; }} .tick {{ font-size: 11px; fill: #777; }}
.overall {{ fill: none; stroke: #555; stroke-width: 2; stroke-dasharray: 6 4; }}
.series {{ fill: none; stroke-width: 2.5; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ padding: 6px 8px; border-bottom: 1px solid #eee; text-align: left; }}
.bar {{ width: 40%; }} .seg {{ display: inline-block; height: 14px; }}
.dot {{ display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }}
.muted {{ color: #777; }} .score {{ font-variant-numeric: tabular-nums; color: #555; }}
li {{ margin-bottom: 10px; }} li li {{ margin-bottom: 4px; }}
#speaker-metrics td + td {{ white-space: nowrap; }}
.segment.negative {{ border-left: 4px solid #d62728; padding-left: 8px; }}
.segment.positive {{ border-left: 4px solid #2ca02c; padding-left: 8px; }}
</style></head><body>
<h1>{escape(insights["source"])}</h1>
<p>{summary["utterances"]} utterances in {summary["turns"]} turns by {summary["speakers"]} speakers{duration}.
Mean sentiment {summary["mean_sentiment"]:+.2f}; negative {summary["label_shares"]["negative"]:.0%},
neutral {summary["label_shares"]["neutral"]:.0%}, positive {summary["label_shares"]["positive"]:.0%}.</p>
<h2>Sentiment over time</h2>
<p class="muted">Rolling mean over {insights["window"]} utterances per speaker (coloured) and overall (dashed);
dots are single utterances (hover for the quote).</p>
{_timeline_svg(insights)}
<h2>Speakers</h2>
{_speaker_bars(insights)}
<h2>Emotions</h2>
{_emotions_section(insights)}
<h2>How the conversation was held</h2>
{_metrics_section(insights)}
<h2>Stretches of one mood</h2>
<p class="muted">Where the mood stayed negative or positive over several utterances, strongest first.</p>
{_segments(insights)}
<h2>Turning points</h2>
{_moments(insights["turning_points"], "No turning points.")}
<h2>Most negative moments</h2>
{_moments(insights["most_negative"], "No negative moments.")}
<h2>Most positive moments</h2>
{_moments(insights["most_positive"], "No positive moments.")}
<h2>Utterances</h2>
{_utterance_table(insights)}
</body></html>
"""


def csv_columns(insights: dict[str, Any]) -> tuple[str, ...]:
    """:data:`CSV_COLUMNS`, with :data:`EMOTION_CSV_COLUMNS` before ``text`` when emotions were scored."""
    if insights.get("emotions") is None:
        return CSV_COLUMNS
    return (*CSV_COLUMNS[:-1], *EMOTION_CSV_COLUMNS, CSV_COLUMNS[-1])


def render_csv(insights: dict[str, Any], *, raw_csv: bool = False) -> str:
    """One row per utterance (:func:`csv_columns`: emotion columns only when emotions were scored), with a header.

    Speaker names and utterances come from the transcript, that is from whoever joined the call or wrote
    the file: a cell a spreadsheet would run as a formula gets a leading ``'`` unless ``raw_csv``
    (see :mod:`moodline.core.spreadsheet`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = csv_columns(insights)
    writer.writerow(columns)
    for utterance in insights["utterances"]:
        row = [utterance[column] for column in columns]
        writer.writerow(row if raw_csv else spreadsheet_row(row))
    return buffer.getvalue()


def render_segments_csv(insights: dict[str, Any], *, raw_csv: bool = False) -> str:
    """The sentiment segments, strongest first, one row per quote (:data:`SEGMENT_CSV_COLUMNS`), with a header.

    ``segment`` numbers the segments from 1; ``speakers`` joins a segment's speakers with ``"; "``. Names and
    quotes come from the transcript, so they are neutralised as in :func:`render_csv` unless ``raw_csv``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SEGMENT_CSV_COLUMNS)
    for number, segment in enumerate(insights.get("segments") or [], start=1):
        shared = [
            number,
            segment["kind"],
            segment["start"],
            segment["end"],
            segment["first_position"],
            segment["last_position"],
            segment["utterances"],
            "; ".join(segment["speakers"]),
            segment["mean_sentiment"],
            segment["strength"],
        ]
        for quote in segment["quotes"]:
            row = [*shared, quote["position"], quote["speaker"], quote["start"], quote["sentiment"], quote["text"]]
            writer.writerow(row if raw_csv else spreadsheet_row(row))
    return buffer.getvalue()


def write_pngs(insights: dict[str, Any], directory: Path) -> list[Path]:
    """``timeline.png`` (rolling sentiment per speaker), ``speakers.png`` (label shares per speaker) and,
    when emotions were scored, ``emotions.png`` (emotion shares per speaker and over the call)."""
    from moodline.core.plots import pyplot, save_figure

    plt = pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.axhline(0, color="#bbb", linestyle="--", linewidth=1)
    ax.plot(insights["timeline"]["overall"], color="#555", linestyle="--", label="overall (rolling)")
    for index, (speaker, series) in enumerate(insights["timeline"]["per_speaker"].items()):
        ax.plot(series["positions"], series["values"], marker="o", color=PALETTE[index % len(PALETTE)], label=speaker)
    ax.set(ylim=(-1.05, 1.05), xlabel="utterance", ylabel="sentiment", title="Sentiment over time")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    timeline = directory / "timeline.png"
    save_figure(fig, timeline, dpi=110)

    speakers = insights["speakers"]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.5 * len(speakers)))
    left = [0.0] * len(speakers)
    names = [s["speaker"] for s in speakers]
    for label in ("negative", "neutral", "positive"):
        values = [s["label_shares"][label] for s in speakers]
        ax.barh(names, values, left=left, color=LABEL_COLOURS[label], label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set(xlim=(0, 1), xlabel="share of utterances", title="Sentiment by speaker")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    bars = directory / "speakers.png"
    save_figure(fig, bars, dpi=110)
    if insights.get("emotions") is None:
        return [timeline, bars]
    return [timeline, bars, _write_emotions_png(insights["emotions"], directory / "emotions.png")]


def _write_emotions_png(emotions: dict[str, Any], path: Path) -> Path:
    """Stacked emotion shares: one bar per speaker (left), one bar per stretch of the call (right)."""
    from moodline.core.plots import pyplot, save_figure

    plt = pyplot()
    labels, speakers, windows = emotions["labels"], emotions["speakers"], emotions["timeline"]
    fig, (by_speaker, over_time) = plt.subplots(
        1, 2, figsize=(12, 1.5 + 0.45 * max(len(speakers), 4)), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    names = list(speakers)
    left = [0.0] * len(names)
    for emotion in labels:
        values = [speakers[name]["shares"][emotion] for name in names]
        by_speaker.barh(names, values, left=left, color=EMOTION_COLOURS.get(emotion), label=emotion)
        left = [a + b for a, b in zip(left, values, strict=True)]
    by_speaker.set(xlim=(0, 1), xlabel="share of utterances", title="Emotions by speaker")
    by_speaker.invert_yaxis()
    bottom = [0.0] * len(windows)
    middles = [(w["first_position"] + w["last_position"]) / 2 for w in windows]
    widths = [max(1.0, (w["last_position"] - w["first_position"] + 1) * 0.9) for w in windows]
    for emotion in labels:
        values = [w["shares"][emotion] for w in windows]
        over_time.bar(middles, values, width=widths, bottom=bottom, color=EMOTION_COLOURS.get(emotion), label=emotion)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    over_time.set(ylim=(0, 1), xlabel="utterance", ylabel="share", title="Emotions over the call")
    over_time.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path
