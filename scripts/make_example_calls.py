"""Build a folder of example call transcripts in every format moodline reads, from real dialogue data.

The dialogue is real; the files are not calls anyone recorded:

- MELD dev (``meld/dev_sent_emo.csv``): scenes from the TV series Friends with their speakers and the
  clip times of each utterance, shifted so every dialogue starts at 0 s. Dialogues whose times run
  backwards, overlap or span over ten minutes are skipped.
- DailyDialog validation (``dailydialog/dialogues_validation.txt``): two-person conversations whose
  turns alternate between A and B. They have no names and no times, so A and B get invented names
  (from a small fixed list, so that the same people come back across calls) and each turn gets a
  synthetic, consistent timing: 2.5 words per second (150 words a minute), at least one second, and
  0.4 s between turns.

Calls are written in turn as WebVTT, SRT, SBV, JSON, CSV, Otter text and plain "Name: text", and each
file is read back with moodline's parser to check it is understood as written.

    python scripts/make_example_calls.py OUT_DIR [--data-root ../shared/data] [--meld-calls 14] [--dailydialog-calls 10]
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

from moodline.core.durable import write_atomically
from moodline.core.errors import MoodlineError
from moodline.training.mixture import default_data_root
from moodline.transcripts import Cue, Transcript, format_timestamp, parse_transcript, to_json, to_srt, to_vtt

FORMATS = ("vtt", "srt", "sbv", "json", "csv", "otter", "plain")
SUFFIXES = {
    "vtt": ".vtt",
    "srt": ".srt",
    "sbv": ".sbv",
    "json": ".json",
    "csv": ".csv",
    "otter": ".txt",
    "plain": ".txt",
}
# Invented names for DailyDialog's A and B: a few per side, so speakers recur across calls.
A_NAMES = ("Dana Whitfield", "Marcus Lee", "Priya Raman")
B_NAMES = ("Tom O'Connor", "Grace Kim", "Elena Rossi", "Ben Carter", "Aiko Tanaka")
WORDS_PER_SECOND = 2.5
GAP_SECONDS = 0.4
MAX_MELD_SPAN_SECONDS = 600.0


def _clip_seconds(text: str) -> float:
    hours, minutes, rest = text.strip().split(":")
    seconds, millis = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def meld_calls(path: Path, count: int) -> list[Transcript]:
    """The first ``count`` MELD dialogues with sane times, as transcripts starting at 0 s."""
    dialogues: dict[int, list[dict[str, str]]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            dialogues[int(row["Dialogue_ID"])].append(row)
    calls = []
    for dialogue_id in sorted(dialogues):
        rows = sorted(dialogues[dialogue_id], key=lambda row: int(row["Utterance_ID"]))
        starts = [_clip_seconds(row["StartTime"]) for row in rows]
        ends = [_clip_seconds(row["EndTime"]) for row in rows]
        in_order = all(a <= b for a, b in zip(starts, starts[1:], strict=False))
        sane = in_order and all(s < e for s, e in zip(starts, ends, strict=True))
        if not sane or ends[-1] - starts[0] > MAX_MELD_SPAN_SECONDS or len(rows) < 5:
            continue
        if len({row["Speaker"] for row in rows}) < 2:
            continue
        origin = starts[0]
        cues = [
            Cue(" ".join(row["Speaker"].split()), " ".join(row["Utterance"].split()), s - origin, e - origin, i, i + 1)
            for i, (row, s, e) in enumerate(zip(rows, starts, ends, strict=True))
        ]
        calls.append(Transcript(tuple(cues), "meld", f"meld-dialogue-{dialogue_id}"))
        if len(calls) == count:
            break
    return calls


_SPACE_BEFORE = re.compile(r" ([,.?!;:%)])")
_SPACED_APOSTROPHE = re.compile(r" ([’']) ?")


def _detokenise(text: str) -> str:
    """DailyDialog is tokenised ("Hi , how are you ?"); put punctuation back where a person writes it."""
    return _SPACED_APOSTROPHE.sub(r"\1", _SPACE_BEFORE.sub(r"\1", " ".join(text.split())))


def dailydialog_calls(path: Path, count: int) -> list[Transcript]:
    """The first ``count`` DailyDialog dialogues with invented names and synthetic timings (see above)."""
    calls = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            turns = [_detokenise(turn) for turn in line.split("__eou__") if turn.strip()]
            if len(turns) < 4:
                continue
            names = (A_NAMES[number % len(A_NAMES)], B_NAMES[number % len(B_NAMES)])
            cues, clock = [], 0.0
            for index, text in enumerate(turns):
                seconds = max(1.0, len(text.split()) / WORDS_PER_SECOND)
                cues.append(Cue(names[index % 2], text, round(clock, 3), round(clock + seconds, 3), index, index + 1))
                clock += seconds + GAP_SECONDS
            calls.append(Transcript(tuple(cues), "dailydialog", f"dailydialog-{number}"))
            if len(calls) == count:
                break
    return calls


def _sbv(call: Transcript) -> str:
    blocks = [
        f"{format_timestamp(c.start or 0.0)},{format_timestamp(c.end or 0.0)}\n{c.speaker}: {c.text}" for c in call.cues
    ]
    return "\n\n".join(blocks) + "\n"


def _csv(call: Transcript) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Speaker", "Start Time", "End Time", "Text"])
    writer.writerows([c.speaker, f"{c.start:.3f}", f"{c.end:.3f}", c.text] for c in call.cues)
    return buffer.getvalue()


def _otter(call: Transcript) -> str:
    def clock(seconds: float) -> str:
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}:{secs:02d}"

    return "\n\n".join(f"{c.speaker}  {clock(c.start or 0.0)}\n{c.text}" for c in call.cues) + "\n"


def _plain(call: Transcript) -> str:
    return "\n".join(f"{c.speaker}: {c.text}" for c in call.cues) + "\n"


WRITERS = {"vtt": to_vtt, "srt": to_srt, "sbv": _sbv, "json": to_json, "csv": _csv, "otter": _otter, "plain": _plain}


def write_calls(calls: list[Transcript], out: Path) -> list[Path]:
    """Write each call in the next format of :data:`FORMATS`; each file must parse back to its speakers."""
    written = []
    for number, call in enumerate(calls, start=1):
        fmt = FORMATS[(number - 1) % len(FORMATS)]
        text = WRITERS[fmt](call)
        path = out / f"{number:02d}-{call.source}-{fmt}{SUFFIXES[fmt]}"
        back = parse_transcript(text, source=path.name)
        if back.format != fmt or back.speakers() != call.speakers() or len(back.turns()) != len(call.turns()):
            raise MoodlineError(
                f"{path.name}: reads back as {back.format} with {len(back.turns())} turns by {back.speakers()}, "
                f"not as written ({fmt}, {len(call.turns())} turns by {call.speakers()})"
            )
        written.append(write_atomically(path, text))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the transcripts into (created if missing)")
    parser.add_argument("--data-root", type=Path, default=None, help="shared data (default: $MOODLINE_SHARED_DATA)")
    parser.add_argument("--meld-calls", type=int, default=14)
    parser.add_argument("--dailydialog-calls", type=int, default=10)
    args = parser.parse_args()
    root = args.data_root or default_data_root()
    meld = root / "meld" / "dev_sent_emo.csv"
    dailydialog = root / "dailydialog" / "dialogues_validation.txt"
    for source in (meld, dailydialog):
        if not source.is_file():
            print(f"Error: {source} is missing; pass --data-root or set MOODLINE_SHARED_DATA", file=sys.stderr)
            return 1
    calls = meld_calls(meld, args.meld_calls) + dailydialog_calls(dailydialog, args.dailydialog_calls)
    try:
        written = write_calls(calls, args.out)
    except MoodlineError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    formats = sorted({path.stem.rsplit("-", 1)[1] for path in written})
    print(f"wrote {len(written)} transcripts ({', '.join(formats)}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
