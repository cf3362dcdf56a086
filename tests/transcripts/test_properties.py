"""Property tests: parsing never fails in an unplanned way, and writing then reading keeps the turns."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moodline.transcripts import (
    TRANSCRIPT_FORMATS,
    Transcript,
    TranscriptParseError,
    format_timestamp,
    parse_timestamp,
    parse_transcript,
    to_json,
    to_srt,
    to_vtt,
)
from moodline.transcripts.sentences import sentence_spans

from .strategies import transcripts

# Shared CI machines are slow and uneven; correctness, not speed, is under test here.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments of every format, so that generated input reaches past the format detection.
FRAGMENTS = st.sampled_from(
    [
        "WEBVTT\n",
        "\n",
        "\r\n",
        "\r",
        " --> ",
        "-->",
        "00:00:01.000",
        "0:0:1,5",
        "1:02",
        "99:99",
        "1\n",
        "Alice: ",
        "**Bob:** ",
        "Bob  0:34\n",
        "[00:01:23]",
        "NOTE ",
        "<v Ann>",
        "</v>",
        "<i>",
        "&amp;",
        "&#0;",
        "{",
        "}",
        "[",
        "]",
        '"text"',
        '"start"',
        ":",
        ",",
        "null",
        "1e999",
        "-1",
        "speaker,text,start\n",
        "0:00:01.000,0:00:02.000\n",
        "Transcribed by https://otter.ai",
        "\ufeff",
        "\t",
        " ",
        "a",
    ]
)
structured_text = st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=40).map("".join)


def parses_or_fails_cleanly(data: str | bytes, format: str | None = None) -> None:
    try:
        result = parse_transcript(data, format=format)
    except TranscriptParseError:
        return
    assert isinstance(result, Transcript)
    assert result.cues
    assert all(cue.text and cue.text == " ".join(cue.text.split()) and cue.speaker for cue in result.cues)


@relaxed
@given(st.text())
def test_arbitrary_text_parses_or_raises_a_parse_error(text):
    parses_or_fails_cleanly(text)


@relaxed
@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_a_parse_error(data):
    parses_or_fails_cleanly(data)


@relaxed
@given(structured_text, st.sampled_from((None, *TRANSCRIPT_FORMATS)))
def test_format_like_text_parses_or_raises_a_parse_error(text, format):
    parses_or_fails_cleanly(text, format)
    parses_or_fails_cleanly(text.encode("utf-8"), format)


def assert_same_turns(written: str, original: Transcript) -> None:
    parsed = parse_transcript(written)
    expected, actual = original.turns(), parsed.turns()
    assert [(t.speaker, t.text, t.cues) for t in actual] == [(t.speaker, t.text, t.cues) for t in expected], written
    for want, got in zip(expected, actual, strict=True):
        assert want.start is not None and got.start is not None and abs(want.start - got.start) <= 0.001
        assert want.end is not None and got.end is not None and abs(want.end - got.end) <= 0.001


@relaxed
@given(transcripts())
def test_vtt_round_trip_keeps_turns(transcript):
    assert_same_turns(to_vtt(transcript), transcript)


@relaxed
@given(transcripts())
def test_srt_round_trip_keeps_turns(transcript):
    assert_same_turns(to_srt(transcript), transcript)


@relaxed
@given(transcripts())
def test_json_round_trip_keeps_turns(transcript):
    assert_same_turns(to_json(transcript), transcript)


@relaxed
@given(transcripts(speakers=("Unknown",)))
def test_round_trips_without_speakers(transcript):
    for writer in (to_vtt, to_srt, to_json):
        assert_same_turns(writer(transcript), transcript)


@given(st.integers(min_value=0, max_value=500 * 3_600_000), st.sampled_from([".", ","]))
def test_timestamps_round_trip_to_the_millisecond(millis, mark):
    assert parse_timestamp(format_timestamp(millis / 1000, mark)) == millis / 1000


@given(st.text())
def test_sentence_spans_are_ordered_trimmed_and_lose_no_text(text):
    spans = sentence_spans(text)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)
    assert "".join("".join(text[a:b].split()) for a, b in spans) == "".join(text.split())
