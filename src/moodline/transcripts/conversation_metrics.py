"""How a conversation was held: talk time, pace, monologues, questions, interruptions, pauses and silence.

Everything here comes from the transcript's own text and timings; no model is involved. A *turn* is a run
of consecutive cues of one speaker (:meth:`~moodline.transcripts.model.Transcript.turns`); its *span* runs
from its first cue's start to its last cue's end. Turns are taken in transcript order.

Per speaker:

- ``talk_seconds``: length of the union of the speaker's own cue intervals (their overlapping cues count once).
- ``talk_share``: ``talk_seconds`` / the sum of every speaker's ``talk_seconds``; the shares sum to 1
  (null if nobody's cues take any time).
- ``words``: whitespace-separated words in the speaker's cues.
- ``words_per_minute``: ``words / (talk_seconds / 60)``; null when ``talk_seconds`` is 0.
- ``longest_monologue_seconds``: the longest span among the speaker's turns (pauses between its cues included).
- ``turns``: the speaker's turns.
- ``questions``: sentences of the speaker's turns (split by :mod:`moodline.transcripts.sentences`) whose
  last character, closing quotes and brackets aside, is ``?``.
- ``interruptions``: the speaker's turns that start before the previous turn's span ends (overlap > 0).
- ``mean_response_gap_seconds``, ``median_response_gap_seconds``: over the speaker's turns that start at
  or after the end of the previous turn, the pause ``start - previous end`` (0 for a turn that follows
  without a pause); overlapping turns (the interruptions) and the call's first turn have no gap and are left
  out; null when no turn has one.

For the call:

- ``duration_seconds``: the latest cue end minus the earliest cue start.
- ``talk_seconds``: length of the union of all cue intervals: time when at least one person speaks, overlapping
  speech counted once (so it can be less than the sum of the speakers' ``talk_seconds``).
- ``silence_share``: ``1 - talk_seconds / duration_seconds``, the share of the call where nobody speaks, in [0, 1].
- ``speaker_switches``: ``turns - 1``, since consecutive turns always change speaker.
- ``interactivity``: ``speaker_switches`` per minute of ``duration_seconds``.
- ``turns``, ``questions``, ``interruptions``: the speakers' figures summed.

The metrics are *timed* when every cue has a start and an end and some time passes between the earliest
start and the latest end. Otherwise ``timed`` is false, ``reason`` says why in a sentence, and every
time-based figure (talk seconds and shares, words per minute, monologue, interruptions, response gaps,
duration, silence, interactivity) is null; turns, words, questions and speaker switches are still counted.
A cue that ends before it starts counts as taking no time.

Example::

    metrics = conversation_metrics(read_transcript("call.vtt"))
    metrics.call.silence_share, metrics.speakers["Dana Whitfield"].interruptions
    json.dumps(metrics.to_dict())
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from moodline.transcripts.model import Transcript, Turn
from moodline.transcripts.sentences import sentence_spans

__all__ = ["CallMetrics", "ConversationMetrics", "SpeakerMetrics", "conversation_metrics", "count_questions"]

# A question mark followed only by these still ends a question: 'She asked "why?"', '(really?)'.
_CLOSERS = "\"'”’)]"


@dataclass(frozen=True)
class SpeakerMetrics:
    talk_seconds: float | None
    talk_share: float | None
    words: int
    words_per_minute: float | None
    longest_monologue_seconds: float | None
    turns: int
    questions: int
    interruptions: int | None
    mean_response_gap_seconds: float | None
    median_response_gap_seconds: float | None


@dataclass(frozen=True)
class CallMetrics:
    duration_seconds: float | None
    talk_seconds: float | None
    silence_share: float | None
    speaker_switches: int
    interactivity: float | None
    turns: int
    questions: int
    interruptions: int | None


@dataclass(frozen=True)
class ConversationMetrics:
    """The call's and each speaker's figures (speakers in order of first appearance); see the module docstring."""

    timed: bool
    reason: str | None
    call: CallMetrics
    speakers: dict[str, SpeakerMetrics]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_questions(text: str) -> int:
    """Sentences of ``text`` that end with a question mark (closing quotes and brackets aside).

    Example::

        count_questions("Can you hear me? Good. And the slides?")   # 2
    """
    return sum(text[start:end].rstrip(_CLOSERS).endswith("?") for start, end in sentence_spans(text))


def conversation_metrics(transcript: Transcript) -> ConversationMetrics:
    """Measure how ``transcript``'s conversation was held, from its own timings; O(n log n) in its cues.

    Example::

        metrics = conversation_metrics(parse_transcript("Ana: Hi?\\nBo: Hello.\\n", format="plain"))
        metrics.timed, metrics.speakers["Ana"].questions      # (False, 1)
    """
    turns = transcript.turns()
    names = transcript.speakers()
    words = dict.fromkeys(names, 0)
    questions = dict.fromkeys(names, 0)
    turn_counts = dict.fromkeys(names, 0)
    for turn in turns:
        words[turn.speaker] += len(turn.text.split())
        questions[turn.speaker] += count_questions(turn.text)
        turn_counts[turn.speaker] += 1
    reason = _untimed_reason(transcript)
    switches = max(len(turns) - 1, 0)
    if reason is not None:
        speakers = {
            name: SpeakerMetrics(
                None, None, words[name], None, None, turn_counts[name], questions[name], None, None, None
            )
            for name in names
        }
        call = CallMetrics(None, None, None, switches, None, len(turns), sum(questions.values()), None)
        return ConversationMetrics(False, reason, call, speakers)
    return _timed_metrics(transcript, turns, names, words, questions, turn_counts)


def _untimed_reason(transcript: Transcript) -> str | None:
    """Why the transcript's times cannot be measured, or None when they can."""
    cues = transcript.cues
    starts = sum(cue.start is not None for cue in cues)
    ends = sum(cue.end is not None for cue in cues)
    if starts == 0 and ends == 0:
        return f"the {transcript.format} transcript has no timings, so time-based metrics are null"
    if ends == 0:
        return (
            f"the {transcript.format} transcript gives start times but no end times, "
            "so talk time, pauses and overlaps cannot be measured"
        )
    untimed = sum(cue.start is None or cue.end is None for cue in cues)
    if untimed:
        return f"{untimed} of {len(cues)} cues lack a start or an end time, so time-based metrics are null"
    if _duration(transcript) <= 0:
        return "every cue starts and ends at the same moment, so no time passes and time-based metrics are null"
    return None


def _duration(transcript: Transcript) -> float:
    starts = [cue.start for cue in transcript.cues if cue.start is not None]
    ends = [cue.end for cue in transcript.cues if cue.end is not None]
    return max(ends) - min(starts)


def _covered(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``intervals``: sorted by start, then swept once."""
    ordered = sorted(intervals)
    if not ordered:
        return 0.0
    total = 0.0
    run_start, run_end = ordered[0][0], ordered[0][0]
    for start, end in ordered:
        end = max(start, end)  # a cue that ends before it starts takes no time
        if start > run_end:
            total += run_end - run_start
            run_start, run_end = start, end
        else:
            run_end = max(run_end, end)
    return total + run_end - run_start


def _span(turn: Turn) -> float:
    assert turn.start is not None and turn.end is not None
    return max(turn.end - turn.start, 0.0)


def _timed_metrics(
    transcript: Transcript,
    turns: Sequence[Turn],
    names: Sequence[str],
    words: dict[str, int],
    questions: dict[str, int],
    turn_counts: dict[str, int],
) -> ConversationMetrics:
    intervals: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for cue in transcript.cues:
        assert cue.start is not None and cue.end is not None
        intervals[cue.speaker].append((cue.start, cue.end))
    talk = {name: _covered(intervals[name]) for name in names}
    total_talk = sum(talk.values())

    longest = dict.fromkeys(names, 0.0)
    interruptions = dict.fromkeys(names, 0)
    gaps: dict[str, list[float]] = {name: [] for name in names}
    for index, turn in enumerate(turns):
        longest[turn.speaker] = max(longest[turn.speaker], _span(turn))
        if index == 0:
            continue
        previous_end, start = turns[index - 1].end, turn.start
        assert previous_end is not None and start is not None
        if start < previous_end:
            interruptions[turn.speaker] += 1
        else:
            gaps[turn.speaker].append(start - previous_end)

    speakers = {
        name: SpeakerMetrics(
            talk_seconds=talk[name],
            talk_share=talk[name] / total_talk if total_talk > 0 else None,
            words=words[name],
            words_per_minute=words[name] / (talk[name] / 60) if talk[name] > 0 else None,
            longest_monologue_seconds=longest[name],
            turns=turn_counts[name],
            questions=questions[name],
            interruptions=interruptions[name],
            mean_response_gap_seconds=statistics.fmean(gaps[name]) if gaps[name] else None,
            median_response_gap_seconds=statistics.median(gaps[name]) if gaps[name] else None,
        )
        for name in names
    }
    duration = _duration(transcript)
    spoken = _covered(interval for own in intervals.values() for interval in own)
    switches = max(len(turns) - 1, 0)
    call = CallMetrics(
        duration_seconds=duration,
        talk_seconds=spoken,
        # Clamped: float rounding must not make a fully spoken call slightly negative.
        silence_share=min(max(1.0 - spoken / duration, 0.0), 1.0),
        speaker_switches=switches,
        interactivity=switches / (duration / 60),
        turns=len(turns),
        questions=sum(questions.values()),
        interruptions=sum(interruptions.values()),
    )
    return ConversationMetrics(True, None, call, speakers)
