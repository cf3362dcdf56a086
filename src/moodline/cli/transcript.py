"""``moodline transcript``: sentiment per utterance, per speaker and over time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from moodline.cli.options import (
    CONTEXT,
    band_option,
    model_help,
    raw_csv_option,
    shorten,
)

__all__ = ["transcript"]


@click.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
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
    help="Write timeline.png and speakers.png into this directory.",
)
@band_option
def transcript(
    file: Path,
    transcript_format: str | None,
    model: str | None,
    window: int,
    json_out: Path | None,
    csv_out: Path | None,
    html_out: Path | None,
    png_dir: Path | None,
    raw_csv: bool,
    neutral_band: Any,
) -> None:
    """Analyse a meeting, interview or call transcript: sentiment per utterance, per speaker, over time.

    \b
    Example:
      moodline transcript call.vtt --json call.json --csv call.csv
    """
    from moodline.core.durable import write_atomically
    from moodline.inference.engine import Engine
    from moodline.inference.three_way import ThreeWayScorer
    from moodline.transcripts import read_transcript
    from moodline.transcripts.insights import analyse

    conversation = read_transcript(file, format=transcript_format)
    insights = analyse(conversation, ThreeWayScorer(Engine.load(model), neutral_band), window=window).to_dict()
    if json_out is not None:
        write_atomically(json_out, json.dumps(insights, indent=2, ensure_ascii=False) + "\n")
    if csv_out is not None:
        from moodline.transcripts.report import render_csv

        write_atomically(csv_out, render_csv(insights, raw_csv=raw_csv))
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
    for title, key in (("most negative", "most_negative"), ("most positive", "most_positive")):
        for moment in insights[key][:1]:
            when = f" at {moment['start']:.0f}s" if moment["start"] is not None else ""
            click.echo(f'\n{title}: {moment["speaker"]}{when}: "{shorten(moment["quote"], 90)}"')
    for path in (json_out, csv_out, html_out, *pngs):
        if path is not None:
            click.echo(f"wrote {path}")
