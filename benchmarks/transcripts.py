"""What emotions cost: transcript analysis with and without the emotion model, in one run.

Builds a long meeting from real conversation: the MELD dev utterances (Friends dialogues, with their
speakers and their own durations, laid end to end with a short pause between them), repeated until it
has ``--lines`` of them (1,100 make an hour-long meeting of about 900 utterances once a speaker's
consecutive lines are joined). Then times
:func:`moodline.transcripts.insights.analyse` on it, sentiment only and sentiment + emotions, alternating
the two ``--repeats`` times and keeping each variant's best (other work on a shared machine only ever
slows a pass down). Prints a table, with the CPU, and one JSON line; the ratio is the figure to compare
between machines, since both variants ran on the same cores minutes apart.

    python benchmarks/transcripts.py                       # ~20 s on 2 cores
    python benchmarks/transcripts.py --lines 3000 --threads 4
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from machine import read_cpu
from moodline.transcripts.model import Cue, Transcript

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MOODLINE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_MELD = SHARED_DATA / "meld" / "dev_sent_emo.csv"
PAUSE_SECONDS = 0.4


def _seconds(clock: str) -> float:
    """MELD's ``00:20:57,256`` -> 1257.256."""
    hours, minutes, rest = clock.strip().split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))


def read_meld(path: Path) -> list[tuple[str, str, float]]:
    """(speaker, utterance, duration in seconds) per MELD row, in dialogue order; odd durations become 2 s."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = " ".join(row["Utterance"].split())
            if not text:
                continue
            try:
                duration = _seconds(row["EndTime"]) - _seconds(row["StartTime"])
            except ValueError:
                duration = 2.0
            rows.append((row["Speaker"].strip() or "Unknown", text, duration if 0 < duration < 60 else 2.0))
    if not rows:
        raise SystemExit(f"{path}: no utterances")
    return rows


def build_meeting(rows: Sequence[tuple[str, str, float]], lines: int) -> Transcript:
    """A timed transcript of ``lines`` cues: ``rows`` end to end (repeated as needed)."""
    cues = []
    clock = 0.0
    for index in range(lines):
        speaker, text, duration = rows[index % len(rows)]
        cues.append(Cue(speaker, text, clock, clock + duration, index, index + 1))
        clock += duration + PAUSE_SECONDS
    return Transcript(tuple(cues), format="vtt", source="meld-meeting")


def time_analyse(meeting: Transcript, scorer: Any, emotions: Any) -> float:
    from moodline.transcripts.insights import analyse

    started = time.perf_counter()
    analyse(meeting, scorer, emotions=emotions)
    return time.perf_counter() - started


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--meld", type=Path, default=DEFAULT_MELD, help="MELD CSV the meeting is built from.")
    parser.add_argument(
        "--lines",
        type=int,
        default=1100,
        help="MELD lines in the meeting (1,100 make about an hour; a speaker's consecutive lines are one turn).",
    )
    parser.add_argument("--repeats", type=int, default=2, help="Passes per variant; the best is kept.")
    parser.add_argument("--threads", type=int, default=None, help="Inference threads (default: all cores).")
    parser.add_argument("--model", default=None, help="Sentiment model (default: the bundled one).")
    parser.add_argument("--emotion-model", default=None, help="Emotion model (default: the shipped one).")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from moodline.inference.emotions import EmotionScorer
    from moodline.inference.engine import Engine
    from moodline.inference.sources import EMOTION_MODEL_NAME
    from moodline.inference.three_way import ThreeWayScorer

    meeting = build_meeting(read_meld(args.meld), args.lines)
    scorer = ThreeWayScorer(Engine.load(args.model, threads=args.threads))
    emotions = EmotionScorer(Engine.load(args.emotion_model or EMOTION_MODEL_NAME, threads=args.threads))
    pieces = len(meeting.utterances(max_chars=300))
    warm = build_meeting(read_meld(args.meld), 32)
    time_analyse(warm, scorer, emotions)  # first-call allocations of both models
    best = {"sentiment": float("inf"), "sentiment+emotions": float("inf")}
    for _ in range(args.repeats):
        best["sentiment"] = min(best["sentiment"], time_analyse(meeting, scorer, None))
        best["sentiment+emotions"] = min(best["sentiment+emotions"], time_analyse(meeting, scorer, emotions))
    cpu = read_cpu()
    minutes = (meeting.cues[-1].end or 0.0) / 60
    print(f"CPU: {cpu.model} ({os.cpu_count()} logical cores, threads={args.threads or 'all'})")
    print(f"meeting: {pieces} utterances from {args.meld.name}, {minutes:.0f} minutes of conversation\n")
    print(f"{'variant':<22}{'seconds':>9}{'utterances/s':>14}")
    for name, seconds in best.items():
        print(f"{name:<22}{seconds:>9.2f}{pieces / seconds:>14.0f}")
    ratio = best["sentiment+emotions"] / best["sentiment"]
    print(f"\nemotions cost: x{ratio:.2f} the time of sentiment alone")
    result = {
        "cpu": cpu.model,
        "threads": args.threads,
        "utterances": pieces,
        "seconds": best,
        "utterances_per_second": {name: pieces / seconds for name, seconds in best.items()},
        "emotion_time_ratio": ratio,
        "models": {"sentiment": scorer.engine.info.name, "emotions": emotions.engine.info.name},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
