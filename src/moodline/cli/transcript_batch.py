"""``moodline transcript`` over many files: one call at a time, a progress bar, a summary across calls.

A file that cannot be analysed (missing, not UTF-8, empty, not a transcript) is reported with its
reason and skipped; the run goes on, and the command exits 1 at the end when any file failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import click
from tqdm import tqdm

from moodline.cli.options import count_of
from moodline.core.errors import MoodlineError
from moodline.transcripts.collection import CallCollection
from moodline.transcripts.discovery import TRANSCRIPT_SUFFIXES, TranscriptFile, find_transcript_files

__all__ = ["BatchOptions", "run_batch"]

SUMMARY_FILES = ("calls.csv", "speakers.csv", "summary.json", "dashboard.html")


@dataclass(frozen=True)
class BatchOptions:
    transcript_format: str | None
    model: str | None
    window: int
    neutral_band: Any
    summary_dir: Path | None
    per_call_dir: Path | None
    aliases: Path | None
    raw_csv: bool
    emotions: bool | None = None
    emotion_model: str | None = None


def run_batch(paths: list[Path], options: BatchOptions) -> int:
    """Analyse every transcript in ``paths``; print and write the summary; return how many files failed."""
    from moodline.cli.options import load_emotion_scorer
    from moodline.core.progress import progress_bar
    from moodline.inference.engine import Engine
    from moodline.inference.three_way import ThreeWayScorer
    from moodline.transcripts.aliases import SpeakerAliases, read_aliases

    for directory in (options.summary_dir, options.per_call_dir):
        if directory is not None and directory.exists() and not directory.is_dir():
            raise click.UsageError(f"{directory} exists and is not a folder")
    aliases = read_aliases(options.aliases) if options.aliases is not None else SpeakerAliases()
    files = find_transcript_files(paths)
    if not files:
        raise MoodlineError(
            f"no transcripts ({', '.join(TRANSCRIPT_SUFFIXES)}) found in {', '.join(str(p) for p in paths)}"
        )
    scorer = ThreeWayScorer(Engine.load(options.model), options.neutral_band)
    emotions = load_emotion_scorer(options.emotions, options.emotion_model)
    calls = CallCollection(aliases)
    used: set[PurePosixPath] = set()
    with progress_bar(len(files), "transcripts", unit="call") as bar:
        for found in files:
            try:
                insights = _analyse(found, scorer, emotions, options)
            except Exception as exc:  # noqa: BLE001 - one bad file must not lose the run; it is reported
                reason = _reason(exc, found)
                calls.add_failure(file=found.name, error=reason)
                tqdm.write(f"skipped {found.name}: {reason}", file=sys.stderr)  # above the bar, not through it
            else:
                calls.add(insights, file=found.name)
                if options.per_call_dir is not None:
                    _write_per_call(options.per_call_dir, found, insights, used)
            bar.update(1)
    summary = calls.summary()
    written = _write_summary(options.summary_dir, summary, options.raw_csv) if options.summary_dir else []
    _echo_summary(summary)
    for path in written:
        click.echo(f"wrote {path}")
    if options.per_call_dir is not None and calls.analysed:
        click.echo(f"wrote {calls.analysed} per-call JSON files under {options.per_call_dir}")
    return calls.failed


def _analyse(found: TranscriptFile, scorer: Any, emotions: Any, options: BatchOptions) -> dict[str, Any]:
    from moodline.transcripts import read_transcript
    from moodline.transcripts.insights import analyse

    conversation = read_transcript(found.path, format=options.transcript_format)
    result: dict[str, Any] = analyse(conversation, scorer, window=options.window, emotions=emotions).to_dict()
    result["source"] = found.name
    return result


def _reason(exc: Exception, found: TranscriptFile) -> str:
    """Why a file failed, without repeating its name (messages of moodline's errors start with it)."""
    if not isinstance(exc, MoodlineError):
        if isinstance(exc, OSError):
            return f"cannot read it: {exc.strerror or exc}"
        return f"unexpected {type(exc).__name__}: {exc}"
    message = exc.message
    for prefix in (f"{found.path}: ", f"{found.path}, "):
        message = message.removeprefix(prefix)
    return message


def _write_per_call(directory: Path, found: TranscriptFile, insights: dict[str, Any], used: set[PurePosixPath]) -> None:
    from moodline.core.durable import write_atomically

    # The file's path under the folder it was found in (relative, so it stays inside); a number when two collide.
    relative = PurePosixPath(found.relative)
    target = relative.with_name(relative.name + ".json")
    number = 2
    while target in used:
        target = relative.with_name(f"{relative.name}-{number}.json")
        number += 1
    used.add(target)
    write_atomically(directory / target, json.dumps(insights, indent=2, ensure_ascii=False) + "\n")


def _write_summary(directory: Path, summary: dict[str, Any], raw_csv: bool) -> list[Path]:
    from moodline.core.durable import write_atomically
    from moodline.transcripts.collection_report import render_dashboard, render_table_csv

    texts = {
        "calls.csv": render_table_csv(summary["calls"], summary["columns"]["calls"], raw_csv=raw_csv),
        "speakers.csv": render_table_csv(summary["speakers"], summary["columns"]["speakers"], raw_csv=raw_csv),
        "summary.json": json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
        "dashboard.html": render_dashboard(summary),
    }
    return [write_atomically(directory / name, texts[name]) for name in SUMMARY_FILES]


def _dominant(row: dict[str, Any], columns: list[str]) -> str:
    """``  joy 40%``: the speaker's largest emotion share across calls ("" without emotions)."""
    known = [c for c in columns if row.get(c) is not None]
    if not known:
        return ""
    best = max(known, key=lambda c: row[c])
    return f"  {best.removeprefix('emotion_')} {row[best]:.0%}"


def _echo_summary(summary: dict[str, Any]) -> None:
    from moodline.cli.options import shorten

    totals = summary["totals"]
    mean = "" if totals["mean_sentiment"] is None else f", mean sentiment {totals['mean_sentiment']:+.2f}"
    click.echo(
        f"{count_of(totals['calls'], 'call')} analysed, {totals['failed']} failed: "
        f"{count_of(totals['utterances'], 'utterance')}, {count_of(totals['speakers'], 'speaker')}{mean}\n"
    )
    speakers = summary["speakers"]
    if speakers:
        emotions = [c for c in summary["columns"]["speakers"] if c.startswith("emotion_")]
        heading = f"{'speaker':<24}{'calls':>6}{'talk':>7}{'mean':>7}{'neg':>6}{'neu':>6}{'pos':>6}"
        click.echo(heading + ("  dominant emotion" if emotions else ""))
        for row in speakers[:20]:
            click.echo(
                f"{shorten(row['speaker'], 23):<24}{row['calls']:>6}{row['mean_talk_share']:>7.0%}"
                f"{row['mean_sentiment']:>+7.2f}{row['negative_share']:>6.0%}{row['neutral_share']:>6.0%}"
                f"{row['positive_share']:>6.0%}{_dominant(row, emotions)}"
            )
        if len(speakers) > 20:
            click.echo(f"... and {len(speakers) - 20} more speakers")
    if summary["failures"]:
        click.echo(f"\n{len(summary['failures'])} failed:")
        for failure in summary["failures"]:
            click.echo(f"  {failure['file']}: {failure['error']}")
