"""Turns, utterances and sentence splitting on parsed transcripts."""

from __future__ import annotations

import pytest

from moodline.core.errors import InvalidInputError
from moodline.transcripts import Cue, Transcript, Turn, parse_transcript, read_transcript, split_sentences

from .conftest import sample_path


def make(*cues: tuple[str, str, float | None, float | None]) -> Transcript:
    return Transcript(tuple(Cue(s, t, a, b, i, i + 1) for i, (s, t, a, b) in enumerate(cues)), "test")


def test_turns_merge_consecutive_cues_of_a_speaker():
    transcript = read_transcript(sample_path("zoom_customer_call.vtt"))
    turns = transcript.turns()
    assert len(turns) == 13
    assert turns[1] == Turn(
        speaker="Marcus Lee",
        text="Yeah, honestly, it has. The outage on the 14th cost us most of a day. "
        "Our warehouse team couldn't print a single shipping label until about 3 p.m.",
        start=5.9,
        end=13.7,
        cues=(1, 2),
    )
    assert [turn.speaker for turn in turns[:5]] == [
        "Dana Whitfield",
        "Marcus Lee",
        "Dana Whitfield",
        "Priya Raman",
        "Marcus Lee",
    ]
    assert [index for turn in turns for index in turn.cues] == list(range(17))


def test_turns_keep_the_first_known_start_and_last_known_end():
    transcript = make(
        ("A", "one", None, None), ("A", "two", 2.0, 3.0), ("A", "three", 4.0, None), ("B", "x", None, None)
    )
    first, second = transcript.turns()
    assert (first.text, first.start, first.end, first.cues) == ("one two three", 2.0, 3.0, (0, 1, 2))
    assert (second.start, second.end) == (None, None)


def test_speakers_in_order_of_first_appearance():
    transcript = make(("B", "x", None, None), ("A", "y", None, None), ("B", "z", None, None))
    assert transcript.speakers() == ["B", "A"]


def test_short_turns_stay_whole():
    transcript = read_transcript(sample_path("support_call.srt"))
    utterances = transcript.utterances()
    assert [u.text for u in utterances] == [t.text for t in transcript.turns()]
    assert [(u.start, u.end) for u in utterances] == [(t.start, t.end) for t in transcript.turns()]
    assert [u.position for u in utterances] == list(range(len(utterances)))
    assert [u.turn_index for u in utterances] == list(range(len(utterances)))


def test_long_turns_split_into_sentences_with_interpolated_start_times():
    # 40 characters: the second sentence starts at offset 20, halfway through a cue from 10 s to 20 s.
    text = "I loved the product. It broke in a week."
    assert len(text) == 40 and text.index("It") == 21
    transcript = make(("Ann", text, 10.0, 20.0), ("Bo", "Sorry!", 21.0, 22.0))
    first, second, third = transcript.utterances(max_chars=30)
    assert (first.text, first.start, first.end) == ("I loved the product.", 10.0, 15.25)
    assert (second.text, second.start, second.end) == ("It broke in a week.", 15.25, 20.0)
    assert (first.turn_index, second.turn_index, third.turn_index) == (0, 0, 1)
    assert [u.position for u in (first, second, third)] == [0, 1, 2]
    assert (third.text, third.start, third.end) == ("Sorry!", 21.0, 22.0)


def test_interpolation_follows_each_cues_own_times():
    # Two cues of one turn, with a pause between them: time is interpolated within each cue.
    transcript = make(("Ann", "Short one.", 0.0, 1.0), ("Ann", "Then a much longer sentence here.", 5.0, 9.0))
    first, second = transcript.utterances(max_chars=40)
    assert (first.text, first.start) == ("Short one.", 0.0)
    assert second.text == "Then a much longer sentence here."
    # offset 10 is cue one's end (1 s), offset 11 cue two's start (5 s)
    assert second.start == 5.0
    assert second.end == 9.0


def test_without_two_times_every_sentence_keeps_the_turn_times():
    transcript = make(("Ann", "First sentence here. Second sentence here.", 7.0, None))
    first, second = transcript.utterances(max_chars=25)
    assert (first.start, first.end, second.start, second.end) == (7.0, None, 7.0, None)


def test_over_long_sentences_are_cut_at_spaces():
    text = "word " * 30 + "end."
    utterances = make(("Ann", text.strip(), 0.0, 10.0)).utterances(max_chars=24)
    assert all(len(u.text) <= 24 for u in utterances)
    assert " ".join(u.text for u in utterances) == text.strip()
    starts = [u.start for u in utterances]
    assert starts == sorted(starts) and starts[0] == 0.0


def test_max_chars_none_keeps_turns_whole():
    transcript = make(("Ann", "One. Two. Three.", 0.0, 3.0))
    assert [u.text for u in transcript.utterances(max_chars=None)] == ["One. Two. Three."]


@pytest.mark.parametrize("max_chars", [0, -5, True])
def test_max_chars_must_be_positive(max_chars):
    with pytest.raises(InvalidInputError, match="max_chars must be a positive number"):
        make(("Ann", "Hi.", None, None)).utterances(max_chars=max_chars)


def test_utterances_of_a_real_call_cover_every_word_in_order():
    transcript = read_transcript(sample_path("zoom_customer_call.vtt"))
    utterances = transcript.utterances(max_chars=80)
    assert len(utterances) > len(transcript.turns())
    assert " ".join(u.text for u in utterances) == " ".join(t.text for t in transcript.turns())
    starts = [u.start for u in utterances]
    assert all(isinstance(s, float) for s in starts) and starts == sorted(starts)
    # "3.5 hour" and "e.g." do not end sentences
    assert split_sentences(transcript.cues[4].text)[-1].endswith("service, e.g. the one behind the print API.")
    assert split_sentences(transcript.cues[13].text)[-1].endswith("a 3.5 hour onboarding session.")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Mr. Smith arrived. Then he left.", ["Mr. Smith arrived.", "Then he left."]),
        ("Use a tool, e.g. Grafana. It helps.", ["Use a tool, e.g. Grafana.", "It helps."]),
        ("Revenue grew 3.5 percent. Costs fell.", ["Revenue grew 3.5 percent.", "Costs fell."]),
        ("I was thinking... maybe not. Well... Okay!", ["I was thinking... maybe not.", "Well...", "Okay!"]),
        ("Wait… What?", ["Wait…", "What?"]),
        ("Really? yes. Wow!", ["Really?", "yes.", "Wow!"]),
        ('She asked "why?" and left. Fine.', ['She asked "why?" and left.', "Fine."]),
        ('He said "Stop." Then he went.', ['He said "Stop."', "Then he went."]),
        (
            "Call at 5 p.m. and ask for Dr. Lee at No. 5 Main St. today.",
            ["Call at 5 p.m. and ask for Dr. Lee at No. 5 Main St. today."],
        ),
        ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
        ("No trailing punctuation", ["No trailing punctuation"]),
        ("", []),
    ],
)
def test_sentence_splitter(text, sentences):
    assert split_sentences(text) == sentences


def test_parsed_multi_speaker_turn_count_for_every_sample_is_stable():
    # Parsing, merging and splitting never loses or reorders text.
    for name in ("teams_standup.vtt", "otter_interview.txt", "google_meet_export.txt", "chat_notes.md"):
        transcript = parse_transcript(sample_path(name).read_bytes())
        joined = " ".join(cue.text for cue in transcript.cues)
        assert " ".join(t.text for t in transcript.turns()) == joined
        assert " ".join(u.text for u in transcript.utterances(max_chars=40)) == joined
