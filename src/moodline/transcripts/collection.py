"""Many calls at once: one row per call and one row per speaker across calls, added one call at a time.

:class:`CallCollection` takes each call's insights (the dictionary of
:meth:`~moodline.transcripts.insights.ConversationInsights.to_dict`) as it is analysed and keeps only
running totals and one small row per call, so a folder of thousands of transcripts streams through in
constant memory per call. It does no I/O and runs no model.

Speakers are matched across calls by :func:`~moodline.transcripts.aliases.speaker_key` (case and spacing
ignored) after :class:`~moodline.transcripts.aliases.SpeakerAliases` merged their aliases; a speaker is
shown with the alias file's canonical spelling, else the spelling seen in the most calls (the first seen
on a tie). Two spellings of one name within one call count as one speaker there.

Optional keys of a call's insights are read when present and give null columns when absent:
``conversation_metrics`` (``call`` and ``speakers``, see :data:`CALL_METRICS` and
:data:`SPEAKER_METRICS`) and ``emotions`` (``{"speakers": {name: {"shares": {emotion: share}}}}``).

How the speaker row combines calls:

- ``mean_sentiment`` and the label and emotion shares: weighted by the speaker's utterances in each call;
- ``mean_talk_share``: the plain mean of the speaker's talk share over the calls they are in;
- ``talk_seconds``: the sum over calls that have times (null when none has);
- ``questions``, ``interruptions``: sums; ``longest_monologue_seconds``: the longest;
  ``words_per_minute``: words over talk time in the calls whose metrics have both;
  ``mean_response_gap_seconds``: the calls' means weighted by the speaker's turns in each.

Example::

    calls = CallCollection(read_aliases(Path("aliases.toml")))
    for path in paths:
        calls.add(analyse(read_transcript(path), scorer).to_dict(), file=path.name)
    calls.summary()["speakers"][0]["mean_sentiment"]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moodline.inference.three_way import THREE_WAY_LABELS
from moodline.transcripts.aliases import SpeakerAliases

__all__ = ["CALL_COLUMNS", "CALL_METRICS", "SPEAKER_COLUMNS", "SPEAKER_METRICS", "CallCollection"]

CALL_METRICS = ("talk_seconds", "silence_share", "speaker_switches", "interactivity", "questions", "interruptions")
"""Keys of ``conversation_metrics["call"]`` copied into a call's row."""
SPEAKER_METRICS = (
    "words_per_minute",
    "questions",
    "interruptions",
    "longest_monologue_seconds",
    "mean_response_gap_seconds",
)
"""The speaker row's columns from ``conversation_metrics["speakers"]`` (combined as the module says)."""
_SHARES = tuple(f"{label}_share" for label in THREE_WAY_LABELS)
CALL_COLUMNS = (
    "file",
    "status",
    "error",
    "format",
    "duration_seconds",
    "utterances",
    "turns",
    "speakers",
    "speaker_names",
    "mean_sentiment",
    *_SHARES,
    *CALL_METRICS,
)
SPEAKER_COLUMNS = (
    "speaker",
    "calls",
    "utterances",
    "turns",
    "words",
    "talk_seconds",
    "mean_talk_share",
    "mean_sentiment",
    *_SHARES,
    *SPEAKER_METRICS,
)
"""Then one ``emotion_<name>`` column per emotion any call reported."""


@dataclass
class _SpeakerTotals:
    """Running sums for one speaker across calls; rates are divided out only in :meth:`row`."""

    spellings: Counter[str] = field(default_factory=Counter)
    canonical: str | None = None
    calls: int = 0
    utterances: int = 0
    turns: int = 0
    words: int = 0
    talk_share_sum: float = 0.0
    talk_seconds: float | None = None
    sentiment_sum: float = 0.0
    label_sums: Counter[str] = field(default_factory=Counter)
    emotion_sums: Counter[str] = field(default_factory=Counter)
    emotion_utterances: int = 0
    questions: int | None = None
    interruptions: int | None = None
    longest_monologue_seconds: float | None = None
    metric_words: float = 0.0
    metric_talk_seconds: float = 0.0
    gap_sum: float = 0.0
    gap_turns: int = 0

    def row(self, emotions: list[str]) -> dict[str, Any]:
        display = self.canonical or max(self.spellings, key=lambda s: self.spellings[s])  # max keeps the first tie
        n = self.utterances
        row: dict[str, Any] = {
            "speaker": display,
            "calls": self.calls,
            "utterances": n,
            "turns": self.turns,
            "words": self.words,
            "talk_seconds": self.talk_seconds,
            "mean_talk_share": self.talk_share_sum / self.calls,
            "mean_sentiment": self.sentiment_sum / n if n else None,
        }
        row.update({f"{label}_share": self.label_sums[label] / n if n else None for label in THREE_WAY_LABELS})
        row["words_per_minute"] = (
            60 * self.metric_words / self.metric_talk_seconds if self.metric_talk_seconds > 0 else None
        )
        row["questions"] = self.questions
        row["interruptions"] = self.interruptions
        row["longest_monologue_seconds"] = self.longest_monologue_seconds
        row["mean_response_gap_seconds"] = self.gap_sum / self.gap_turns if self.gap_turns else None
        for emotion in emotions:
            row[f"emotion_{emotion}"] = (
                self.emotion_sums[emotion] / self.emotion_utterances if self.emotion_utterances else None
            )
        return row


@dataclass
class _CallSpeaker:
    """One speaker within one call, after merging spellings that share a key."""

    spelling: str
    canonical: str | None
    utterances: int = 0
    turns: int = 0
    words: int = 0
    talk_share: float = 0.0
    talk_seconds: float | None = None
    sentiment_sum: float = 0.0
    label_sums: Counter[str] = field(default_factory=Counter)
    emotion_sums: Counter[str] = field(default_factory=Counter)
    emotion_utterances: int = 0
    metrics: list[Mapping[str, Any]] = field(default_factory=list)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _add_optional(total: float | None, value: Any) -> float | None:
    number = _number(value)
    if number is None:
        return total
    return number if total is None else total + number


class CallCollection:
    """Rows per call and per speaker, built from one call's insights at a time (see the module docstring)."""

    def __init__(self, aliases: SpeakerAliases | None = None) -> None:
        self.aliases = aliases or SpeakerAliases()
        self._calls: list[dict[str, Any]] = []
        self._speakers: dict[str, _SpeakerTotals] = {}
        self._emotions: dict[str, None] = {}  # insertion-ordered set
        self._utterances = 0
        self._turns = 0
        self._sentiment_sum = 0.0
        self._label_sums: Counter[str] = Counter()
        self._duration = 0.0

    @property
    def analysed(self) -> int:
        return sum(row["status"] == "ok" for row in self._calls)

    @property
    def failed(self) -> int:
        return sum(row["status"] == "failed" for row in self._calls)

    def add(self, insights: Mapping[str, Any], *, file: str) -> dict[str, Any]:
        """Add one analysed call; returns its row (:data:`CALL_COLUMNS`)."""
        summary = insights["summary"]
        metrics = insights.get("conversation_metrics") or {}
        call_metrics = metrics.get("call") or {}
        speaker_metrics = metrics.get("speakers") or {}
        emotion_speakers = (insights.get("emotions") or {}).get("speakers") or {}
        duration = _number(summary.get("duration"))
        if duration is None:
            duration = _number(call_metrics.get("duration_seconds"))

        merged: dict[str, _CallSpeaker] = {}
        for speaker in insights["speakers"]:
            name = speaker["speaker"]
            key, canonical = self.aliases.resolve(name)
            entry = merged.setdefault(key, _CallSpeaker(spelling=" ".join(name.split()), canonical=canonical))
            n = speaker["utterances"]
            entry.utterances += n
            entry.turns += speaker["turns"]
            entry.words += speaker["words"]
            entry.talk_share += speaker["talk_share"]
            own = speaker_metrics.get(name) or {}
            talk = _number(own.get("talk_seconds"))
            entry.talk_seconds = _add_optional(entry.talk_seconds, talk if talk is not None else speaker["talk_time"])
            entry.sentiment_sum += speaker["mean_sentiment"] * n
            for label in THREE_WAY_LABELS:
                entry.label_sums[label] += speaker["label_shares"][label] * n
            shares = (emotion_speakers.get(name) or {}).get("shares")
            if isinstance(shares, Mapping) and shares:
                for emotion, share in shares.items():
                    self._emotions.setdefault(emotion, None)
                    entry.emotion_sums[emotion] += float(share) * n
                entry.emotion_utterances += n
            if own:
                entry.metrics.append(own)

        for key, entry in merged.items():
            self._add_speaker(key, entry)

        self._utterances += summary["utterances"]
        self._turns += summary["turns"]
        self._sentiment_sum += summary["mean_sentiment"] * summary["utterances"]
        for label in THREE_WAY_LABELS:
            self._label_sums[label] += summary["label_shares"][label] * summary["utterances"]
        self._duration += duration or 0.0
        row: dict[str, Any] = {
            "file": file,
            "status": "ok",
            "error": None,
            "format": insights.get("format"),
            "duration_seconds": duration,
            "utterances": summary["utterances"],
            "turns": summary["turns"],
            "speakers": len(merged),
            "speaker_names": "; ".join(entry.canonical or entry.spelling for entry in merged.values()),
            "mean_sentiment": summary["mean_sentiment"],
        }
        row.update({f"{label}_share": summary["label_shares"][label] for label in THREE_WAY_LABELS})
        row.update({name: call_metrics.get(name) for name in CALL_METRICS})
        self._calls.append(row)
        return row

    def add_failure(self, *, file: str, error: str) -> dict[str, Any]:
        """Record a call that could not be analysed; its row has the error and null figures."""
        row = dict.fromkeys(CALL_COLUMNS)
        row.update(file=file, status="failed", error=error)
        self._calls.append(row)
        return row

    def _add_speaker(self, key: str, entry: _CallSpeaker) -> None:
        totals = self._speakers.setdefault(key, _SpeakerTotals())
        totals.spellings[entry.spelling] += 1
        totals.canonical = totals.canonical or entry.canonical
        totals.calls += 1
        totals.utterances += entry.utterances
        totals.turns += entry.turns
        totals.words += entry.words
        totals.talk_share_sum += entry.talk_share
        if entry.talk_seconds is not None:
            totals.talk_seconds = (totals.talk_seconds or 0.0) + entry.talk_seconds
        totals.sentiment_sum += entry.sentiment_sum
        totals.label_sums.update(entry.label_sums)
        totals.emotion_sums.update(entry.emotion_sums)
        totals.emotion_utterances += entry.emotion_utterances
        for own in entry.metrics:
            for name in ("questions", "interruptions"):
                value = _number(own.get(name))
                if value is not None:
                    setattr(totals, name, int((getattr(totals, name) or 0) + value))
            longest = _number(own.get("longest_monologue_seconds"))
            if longest is not None:
                totals.longest_monologue_seconds = max(totals.longest_monologue_seconds or 0.0, longest)
            words, talk = _number(own.get("words")), _number(own.get("talk_seconds"))
            if words is not None and talk is not None and talk > 0:
                totals.metric_words += words
                totals.metric_talk_seconds += talk
            gap, turns = _number(own.get("mean_response_gap_seconds")), _number(own.get("turns"))
            if gap is not None and turns:
                totals.gap_sum += gap * turns
                totals.gap_turns += int(turns)

    def call_rows(self) -> list[dict[str, Any]]:
        """One row per call, analysed or failed, in the order they were added."""
        return [dict(row) for row in self._calls]

    def speaker_columns(self) -> list[str]:
        return [*SPEAKER_COLUMNS, *(f"emotion_{emotion}" for emotion in self._emotions)]

    def speaker_rows(self) -> list[dict[str, Any]]:
        """One row per speaker: most calls first, then most utterances, then by name."""
        emotions = list(self._emotions)
        rows = [totals.row(emotions) for totals in self._speakers.values()]
        return sorted(rows, key=lambda row: (-row["calls"], -row["utterances"], row["speaker"].casefold()))

    def summary(self) -> dict[str, Any]:
        """Everything, as JSON-ready data: ``totals``, ``calls``, ``speakers``, ``failures`` and ``columns``."""
        n = self._utterances
        totals: dict[str, Any] = {
            "calls": self.analysed,
            "failed": self.failed,
            "utterances": n,
            "turns": self._turns,
            "speakers": len(self._speakers),
            "duration_seconds": self._duration,
            "mean_sentiment": self._sentiment_sum / n if n else None,
        }
        totals.update({f"{label}_share": self._label_sums[label] / n if n else None for label in THREE_WAY_LABELS})
        return {
            "totals": totals,
            "calls": self.call_rows(),
            "speakers": self.speaker_rows(),
            "failures": [
                {"file": row["file"], "error": row["error"]} for row in self._calls if row["status"] == "failed"
            ],
            "columns": {"calls": list(CALL_COLUMNS), "speakers": self.speaker_columns()},
        }
