"""``moodline transcript``: sentiment per utterance, per speaker and over time, for one call or many."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from moodline.cli.options import (
    CONTEXT,
    band_option,
    count_of,
    emotion_options,
    load_emotion_scorer,
    model_help,
    raw_csv_option,
    shorten,
)
from moodline.transcripts.segments import MAX_SEGMENTS

__all__ = ["transcript"]


@click.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE_OR_FOLDER...")
@click.option(
    "--format", "transcript_format", default=None, help="vtt, srt, sbv, otter, plain, json or csv (default: detected)."
)
@click.option("--model", "-m", default=None, help=model_help)
@click.option(
    "--window", type=click.IntRange(min=1), default=5, show_default=True, help="Utterances per rolling average."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full insights as JSON here.",
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the scored utterances as CSV here.",
)
@click.option(
    "--segments-csv",
    "segments_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the stretches of one mood (negative or positive) as CSV here, one row per quote.",
)
@click.option(
    "--segments",
    "max_segments",
    type=click.IntRange(min=0),
    default=MAX_SEGMENTS,
    show_default=True,
    help="Most stretches of one mood to report, strongest first.",
)
@raw_csv_option
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a self-contained HTML report (charts inline, works offline).",
)
@click.option(
    "--png",
    "png_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write timeline.png, speakers.png and (with emotions) emotions.png into this directory.",
)
@click.option(
    "--summary-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Several calls: write calls.csv, speakers.csv, summary.json and dashboard.html here.",
)
@click.option(
    "--per-call-json",
    "per_call_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Several calls: write each call's insights as JSON under this folder (FILE.json).",
)
@click.option(
    "--aliases",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Several calls: a TOML, JSON or CSV file mapping alias -> canonical speaker name.",
)
@band_option
@emotion_options
def transcript(
    paths: tuple[Path, ...],
    transcript_format: str | None,
    model: str | None,
    window: int,
    json_out: Path | None,
    csv_out: Path | None,
    segments_out: Path | None,
    max_segments: int,
    html_out: Path | None,
    png_dir: Path | None,
    summary_dir: Path | None,
    per_call_dir: Path | None,
    aliases: Path | None,
    raw_csv: bool,
    neutral_band: Any,
    emotions: bool | None,
    emotion_model: str | None,
) -> None:
    """Analyse a meeting, interview or call transcript: sentiment per utterance, per speaker, over time.

    Each utterance's emotion (joy, surprise, anger, sadness, fear, disgust or neutral) is scored too by
    a second, smaller model; --no-emotions skips it.

    Given several files or a folder (searched recursively for .vtt, .srt, .sbv, .txt, .json and .csv),
    analyses one call at a time and summarises across calls: per call, per speaker (names matched
    ignoring case and spacing, merged by --aliases). A file that cannot be read is reported and
    skipped; the exit status is then 1.

    \b
    Examples:
      moodline transcript call.vtt --json call.json --csv call.csv
      moodline transcript calls/ --summary-dir summary --aliases aliases.toml
    """
    many = len(paths) > 1 or paths[0].is_dir() or any(o is not None for o in (summary_dir, per_call_dir, aliases))
    if many:
        single_only = {
            "--json": json_out,
            "--csv": csv_out,
            "--segments-csv": segments_out,
            "--html": html_out,
            "--png": png_dir,
        }
        given = [name for name, value in single_only.items() if value is not None]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} take one transcript file; for several use --summary-dir and --per-call-json"
            )
        from moodline.cli.transcript_batch import BatchOptions, run_batch

        options = BatchOptions(
            transcript_format,
            model,
            window,
            neutral_band,
            summary_dir,
            per_call_dir,
            aliases,
            raw_csv,
            emotions,
            emotion_model,
        )
        if run_batch(list(paths), options):
            click.get_current_context().exit(1)
        return
    _one(
        paths[0],
        transcript_format,
        model,
        window,
        json_out,
        csv_out,
        segments_out,
        max_segments,
        html_out,
        png_dir,
        raw_csv,
        neutral_band,
        emotions,
        emotion_model,
    )


def _one(
    file: Path,
    transcript_format: str | None,
    model: str | None,
    window: int,
    json_out: Path | None,
    csv_out: Path | None,
    segments_out: Path | None,
    max_segments: int,
    html_out: Path | None,
    png_dir: Path | None,
    raw_csv: bool,
    neutral_band: Any,
    emotions: bool | None,
    emotion_model: str | None,
) -> None:
    from moodline.core.durable import write_atomically
    from moodline.inference.engine import Engine
    from moodline.inference.three_way import ThreeWayScorer
    from moodline.transcripts import read_transcript
    from moodline.transcripts.insights import analyse
    from moodline.transcripts.segments import SegmentRules

    conversation = read_transcript(file, format=transcript_format)
    scorer = ThreeWayScorer(Engine.load(model), neutral_band)
    emotion_scorer = load_emotion_scorer(emotions, emotion_model)
    rules = SegmentRules(top=max_segments)
    insights = analyse(conversation, scorer, window=window, segment_rules=rules, emotions=emotion_scorer).to_dict()
    if json_out is not None:
        write_atomically(json_out, json.dumps(insights, indent=2, ensure_ascii=False) + "\n")
    if csv_out is not None:
        from moodline.transcripts.report import render_csv

        write_atomically(csv_out, render_csv(insights, raw_csv=raw_csv))
    if segments_out is not None:
        from moodline.transcripts.report import render_segments_csv

        write_atomically(segments_out, render_segments_csv(insights, raw_csv=raw_csv))
    if html_out is not None:
        from moodline.transcripts.report import render_html

        write_atomically(html_out, render_html(insights))
    pngs = []
    if png_dir is not None:
        from moodline.transcripts.report import write_pngs

        pngs = write_pngs(insights, png_dir)
    summary = insights["summary"]
    click.echo(
        f"{file.name} ({insights['format']}): {summary['utterances']} utterances, {summary['turns']} turns, "
        f"{summary['speakers']} speakers, mean sentiment {summary['mean_sentiment']:+.2f}\n"
    )
    click.echo(f"{'speaker':<20}{'turns':>6}{'talk':>7}{'mean':>7}{'neg':>6}{'neu':>6}{'pos':>6}{'trend':>7}")
    for row in insights["speakers"]:
        shares = row["label_shares"]
        click.echo(
            f"{row['speaker'][:19]:<20}{row['turns']:>6}{row['talk_share']:>7.0%}{row['mean_sentiment']:>+7.2f}"
            f"{shares['negative']:>6.0%}{shares['neutral']:>6.0%}{shares['positive']:>6.0%}"
            f"{row['trajectory']['delta']:>+7.2f}"
        )
    _echo_emotions(insights["emotions"])
    _echo_metrics(insights["conversation_metrics"])
    _echo_segments(insights["segments"])
    for title, key in (("most negative", "most_negative"), ("most positive", "most_positive")):
        for moment in insights[key][:1]:
            when = f" at {moment['start']:.0f}s" if moment["start"] is not None else ""
            click.echo(f'\n{title}: {moment["speaker"]}{when}: "{shorten(moment["quote"], 90)}"')
    for path in (json_out, csv_out, segments_out, html_out, *pngs):
        if path is not None:
            click.echo(f"wrote {path}")


def _echo_metrics(metrics: dict[str, Any]) -> None:
    """The call in one line, then one line per speaker; time-based figures only where the timings allow."""
    call = metrics["call"]
    counts = (
        f"{count_of(call['turns'], 'turn')}, "
        f"{count_of(call['speaker_switches'], 'speaker switch', 'speaker switches')}, "
        f"{count_of(call['questions'], 'question')}"
    )
    if not metrics["timed"]:
        click.echo(f"\nhow it was held: {counts}; no time-based figures: {metrics['reason']}")
        for name, row in metrics["speakers"].items():
            click.echo(
                f"  {name[:19]:<20}{count_of(row['words'], 'word')}, {count_of(row['turns'], 'turn')}, "
                f"{count_of(row['questions'], 'question')}"
            )
        return
    click.echo(
        f"\nhow it was held: {call['duration_seconds']:.0f}s, silence {call['silence_share']:.0%}, "
        f"{counts} ({call['interactivity']:.1f} switches/min), {count_of(call['interruptions'], 'interruption')}"
    )
    for name, row in metrics["speakers"].items():
        pace = f"{row['words_per_minute']:.0f} wpm" if row["words_per_minute"] is not None else "- wpm"
        gap = row["median_response_gap_seconds"]
        click.echo(
            f"  {name[:19]:<20}{row['talk_seconds']:.0f}s talk, {pace}, longest turn "
            f"{row['longest_monologue_seconds']:.0f}s, {count_of(row['questions'], 'question')}, "
            f"{count_of(row['interruptions'], 'interruption')}, median reply gap "
            + (f"{gap:.1f}s" if gap is not None else "-")
        )


def _top_emotions(shares: dict[str, float], shown: int = 3) -> str:
    """The ``shown`` largest shares, e.g. ``neutral 55%, joy 25%, anger 10%`` (none at 0%).

    The sort is stable over the shares' own order, so a tie ranks as ``dominant`` breaks it.
    """
    ranked = sorted((name for name in shares if shares[name] > 0), key=lambda name: -shares[name])
    return ", ".join(f"{name} {shares[name]:.0%}" for name in ranked[:shown])


def _echo_emotions(emotions: dict[str, Any] | None) -> None:
    """The call's emotions in one line, then each speaker's dominant emotion and largest shares."""
    if emotions is None:
        return
    click.echo(f"\nemotions (share of utterances, the dominant first): {_top_emotions(emotions['overall'], 4)}")
    for name, row in emotions["speakers"].items():
        click.echo(f"  {name[:19]:<20}{_top_emotions(row['shares'])}")


def _echo_segments(segments: list[dict[str, Any]], shown: int = 3) -> None:
    """The strongest stretches of one mood, each with its most extreme quote."""
    for segment in segments[:shown]:
        timed = segment["start"] is not None and segment["end"] is not None
        when = f" {segment['start']:.0f}s-{segment['end']:.0f}s" if timed else ""
        quote = max(segment["quotes"], key=lambda q: abs(q["sentiment"]))
        click.echo(
            f"\n{segment['kind']} stretch{when}, utterances {segment['first_position']}-{segment['last_position']} "
            f"({', '.join(segment['speakers'])}), mean {segment['mean_sentiment']:+.2f}: "
            f'{quote["speaker"]}: "{shorten(quote["text"], 80)}"'
        )
