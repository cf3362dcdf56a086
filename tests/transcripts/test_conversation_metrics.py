"""Conversation metrics on hand-made transcripts whose answers are worked out by hand, and their properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodline.transcripts import Cue, Transcript, parse_transcript, read_transcript
from moodline.transcripts.conversation_metrics import conversation_metrics, count_questions

from .conftest import sample_path


def timed(*rows: tuple[str, float | None, float | None, str]) -> Transcript:
    cues = [Cue(speaker, text, start, end, i, i + 1) for i, (speaker, start, end, text) in enumerate(rows)]
    return Transcript(tuple(cues), "test")


# Turns: Ana [0, 10], Ben [12, 15], Ana [14, 25] (two cues, a pause at 20-21), Ben [30, 33] (two overlapping cues).
MEETING = timed(
    ("Ana", 0, 10, "Hello everyone. Can you hear me?"),
    ("Ben", 12, 15, "Yes. Loud and clear."),
    ("Ana", 14, 20, "Great. So what do we do now? And who pays?"),
    ("Ana", 21, 25, "Let me explain."),
    ("Ben", 30, 32, "Fine? Sure."),
    ("Ben", 31, 33, "ok then"),
)


def test_per_speaker_figures_match_the_hand_count() -> None:
    metrics = conversation_metrics(MEETING)
    assert metrics.timed and metrics.reason is None
    assert list(metrics.speakers) == ["Ana", "Ben"]
    ana, ben = metrics.speakers["Ana"], metrics.speakers["Ben"]
    # Ana: 10 + 6 + 4 seconds; Ben: 3 + the union of 30-32 and 31-33, which is 3, not 4.
    assert (ana.talk_seconds, ben.talk_seconds) == (pytest.approx(20), pytest.approx(6))
    assert (ana.talk_share, ben.talk_share) == (pytest.approx(20 / 26), pytest.approx(6 / 26))
    assert (ana.words, ben.words) == (19, 8)
    assert ana.words_per_minute == pytest.approx(19 / (20 / 60))
    assert ben.words_per_minute == pytest.approx(8 / (6 / 60))
    # Ana's second turn runs 14 to 25 with her pause inside it.
    assert (ana.longest_monologue_seconds, ben.longest_monologue_seconds) == (pytest.approx(11), pytest.approx(3))
    assert (ana.turns, ben.turns) == (2, 2)
    assert (ana.questions, ben.questions) == (3, 1)
    # Ana starts at 14 while Ben talks until 15; Ben waits 2 s (10 -> 12) and 5 s (25 -> 30).
    assert (ana.interruptions, ben.interruptions) == (1, 0)
    assert ana.mean_response_gap_seconds is None and ana.median_response_gap_seconds is None
    assert ben.mean_response_gap_seconds == pytest.approx(3.5)
    assert ben.median_response_gap_seconds == pytest.approx(3.5)


def test_call_figures_match_the_hand_count() -> None:
    call = conversation_metrics(MEETING).call
    assert call.duration_seconds == pytest.approx(33)
    # Someone speaks during 0-10, 12-20, 21-25 and 30-33: 25 of 33 seconds.
    assert call.talk_seconds == pytest.approx(25)
    assert call.silence_share == pytest.approx(8 / 33)
    assert (call.speaker_switches, call.turns, call.questions, call.interruptions) == (3, 4, 4, 1)
    assert call.interactivity == pytest.approx(3 / (33 / 60))


def test_gaps_count_back_to_back_turns_as_zero_and_take_the_median() -> None:
    metrics = conversation_metrics(
        timed(
            ("A", 0, 1, "one"),
            ("B", 2, 3, "two"),  # 1 s after A
            ("A", 3, 4, "three"),  # straight after B: a gap of 0, not an interruption
            ("B", 6, 7, "four"),  # 2 s
            ("A", 8, 9, "five"),  # 1 s
            ("B", 19, 20, "six"),  # 10 s
        )
    )
    a, b = metrics.speakers["A"], metrics.speakers["B"]
    assert (a.interruptions, b.interruptions) == (0, 0)
    assert (a.mean_response_gap_seconds, a.median_response_gap_seconds) == (pytest.approx(0.5), pytest.approx(0.5))
    assert b.mean_response_gap_seconds == pytest.approx(13 / 3)
    assert b.median_response_gap_seconds == pytest.approx(2)
    assert metrics.call.silence_share == pytest.approx(14 / 20)
    assert metrics.call.interactivity == pytest.approx(5 / (20 / 60))


def test_a_monologue_is_one_turn_however_many_cues() -> None:
    metrics = conversation_metrics(
        timed(
            ("A", 0, 30, "Let me start."), ("A", 30, 95, "And go on."), ("B", 96, 100, "Right."), ("A", 101, 110, "So.")
        )
    )
    assert metrics.speakers["A"].longest_monologue_seconds == pytest.approx(95)
    assert metrics.speakers["A"].turns == 2 and metrics.call.speaker_switches == 2


def test_an_untimed_plain_transcript_counts_but_gives_no_times() -> None:
    metrics = conversation_metrics(
        parse_transcript("Ana: Hi, can you hear me?\nBo: Yes. Can you?\nAna: Good.\n", format="plain")
    )
    assert metrics.timed is False
    assert metrics.reason is not None and "plain" in metrics.reason and "no timings" in metrics.reason
    ana, bo = metrics.speakers["Ana"], metrics.speakers["Bo"]
    assert (ana.words, ana.turns, ana.questions) == (6, 2, 1)
    assert (bo.words, bo.turns, bo.questions) == (3, 1, 1)
    for row in (ana, bo):
        assert row.talk_seconds is row.talk_share is row.words_per_minute is None
        assert row.longest_monologue_seconds is row.interruptions is None
        assert row.mean_response_gap_seconds is row.median_response_gap_seconds is None
    call = metrics.call
    assert (call.turns, call.speaker_switches, call.questions) == (3, 2, 2)
    assert call.duration_seconds is call.talk_seconds is call.silence_share is None
    assert call.interactivity is call.interruptions is None
    as_dict = metrics.to_dict()
    assert as_dict["timed"] is False and as_dict["call"]["silence_share"] is None


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        ("otter_interview.txt", "start times but no end times"),  # Otter gives when each block starts
        ("interview_notes.csv", "1 of 4 cues lack a start or an end time"),
        ("google_meet_export.txt", "start times but no end times"),
        ("chat_notes.md", "has no timings"),
    ],
)
def test_the_reason_says_what_the_timings_lack(sample: str, words: str) -> None:
    metrics = conversation_metrics(read_transcript(sample_path(sample)))
    assert metrics.timed is False and metrics.reason is not None and words in metrics.reason
    assert metrics.call.turns > 0 and all(row.words > 0 for row in metrics.speakers.values())


def test_times_that_span_nothing_are_not_measured() -> None:
    metrics = conversation_metrics(timed(("A", 5, 5, "Hi."), ("B", 5, 5, "Hello?")))
    assert metrics.timed is False and metrics.reason is not None and "no time passes" in metrics.reason
    assert metrics.speakers["B"].questions == 1


def test_timed_samples_are_measured() -> None:
    for name in ("zoom_customer_call.vtt", "support_call.srt", "product_review.sbv", "teams_standup.vtt"):
        metrics = conversation_metrics(read_transcript(sample_path(name)))
        assert metrics.timed, name
        assert metrics.call.duration_seconds is not None and metrics.call.duration_seconds > 0


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Can you hear me? Good. And the slides?", 2),
        ('She asked "why?" and left.', 0),
        ('He said "why not?"', 1),
        ("Is it (really?)", 1),
        ("Really? yes.", 1),
        ("No question here.", 0),
        ("What?!", 0),  # an exclamation last: not asked as a question
    ],
)
def test_questions_are_sentences_ending_in_a_question_mark(text: str, count: int) -> None:
    assert count_questions(text) == count


@st.composite
def overlapping_transcripts(draw: st.DrawFn) -> Transcript:
    """Whole-second cues that may overlap, start late, or come out of time order."""
    count = draw(st.integers(min_value=1, max_value=15))
    rows = []
    for _ in range(count):
        start = draw(st.integers(min_value=0, max_value=60))
        length = draw(st.integers(min_value=0, max_value=15))
        rows.append((draw(st.sampled_from(("A", "B", "C"))), float(start), float(start + length), "word word?"))
    return timed(*rows)


def _covered_seconds(cues: list[Cue]) -> int:
    """Brute force: the whole seconds [t, t + 1) inside at least one cue."""
    return sum(any(c.start is not None and c.end is not None and c.start <= t < c.end for c in cues) for t in range(80))


@settings(max_examples=200, deadline=None)
@given(overlapping_transcripts())
def test_properties_hold_for_any_timed_transcript(transcript: Transcript) -> None:
    metrics = conversation_metrics(transcript)
    starts = [c.start for c in transcript.cues if c.start is not None]
    ends = [c.end for c in transcript.cues if c.end is not None]
    if max(ends) <= min(starts):
        assert metrics.timed is False
        return
    assert metrics.timed
    call, rows = metrics.call, list(metrics.speakers.values())
    assert call.talk_seconds == pytest.approx(_covered_seconds(list(transcript.cues)))
    for name, row in metrics.speakers.items():
        own = [c for c in transcript.cues if c.speaker == name]
        assert row.talk_seconds == pytest.approx(_covered_seconds(own))
    assert call.silence_share is not None and 0.0 <= call.silence_share <= 1.0
    assert call.talk_seconds is not None and call.duration_seconds is not None
    assert call.talk_seconds <= call.duration_seconds + 1e-9
    assert call.talk_seconds <= sum(row.talk_seconds or 0.0 for row in rows) + 1e-9
    if call.talk_seconds > 0:
        assert sum(row.talk_share or 0.0 for row in rows) == pytest.approx(1.0)
    assert call.speaker_switches == len(transcript.turns()) - 1 == call.turns - 1
    assert call.interruptions == sum(row.interruptions or 0 for row in rows) <= call.speaker_switches
    assert call.questions == sum(row.questions for row in rows) == len(transcript.cues)
    for row in rows:
        gap = row.mean_response_gap_seconds
        assert gap is None or gap >= 0
        monologue = row.longest_monologue_seconds
        assert monologue is not None and monologue <= call.duration_seconds + 1e-9


def test_an_hour_of_thousands_of_cues_is_measured() -> None:
    # How fast is for benchmarks/transcripts.py; here, that an hour-long call is measured whole.
    rows = []
    for i in range(4000):  # an hour: a cue every 0.9 s, four speakers, some overlapping
        start = i * 0.9
        rows.append((f"S{i % 4 if i % 7 else (i + 1) % 4}", start, start + 1.0, "Is that right? I think so."))
    transcript = timed(*rows)
    metrics = conversation_metrics(transcript)
    assert metrics.timed and metrics.call.turns > 3000
