"""Writing transcripts as WebVTT, SRT and JSON, and reading them back."""

from __future__ import annotations

import json

import pytest

from moodline.core.errors import InvalidInputError
from moodline.transcripts import Cue, Transcript, parse_transcript, read_transcript, to_json, to_srt, to_vtt

from .conftest import sample_path


def make(*cues: tuple[str, str, float | None, float | None]) -> Transcript:
    return Transcript(tuple(Cue(s, t, a, b, i, i + 1) for i, (s, t, a, b) in enumerate(cues)), "test")


def same_turns(a: Transcript, b: Transcript) -> bool:
    return [(t.speaker, t.text, t.start, t.end, t.cues) for t in a.turns()] == [
        (t.speaker, t.text, t.start, t.end, t.cues) for t in b.turns()
    ]


def test_to_vtt_writes_voice_tags():
    transcript = make(("Ann Lee", "Hi <there> & welcome", 1.5, 3.25), ("Bo", "Thanks!", 3.5, 62.0))
    assert to_vtt(transcript) == (
        "WEBVTT\n\n"
        "1\n00:00:01.500 --> 00:00:03.250\n<v Ann Lee>Hi &lt;there&gt; &amp; welcome</v>\n\n"
        "2\n00:00:03.500 --> 00:01:02.000\n<v Bo>Thanks!</v>\n"
    )


def test_to_srt_writes_name_prefixes_and_comma_milliseconds():
    transcript = make(("Ann Lee", "Hi", 3723.45, 3724.0))
    assert to_srt(transcript) == "1\n01:02:03,450 --> 01:02:04,000\nAnn Lee: Hi\n"


def test_captions_without_speakers_are_written_bare():
    transcript = read_transcript(sample_path("lecture_captions.vtt"))
    assert "<v" not in to_vtt(transcript)
    assert "Unknown:" not in to_srt(transcript)
    assert same_turns(parse_transcript(to_vtt(transcript)), transcript)
    assert same_turns(parse_transcript(to_srt(transcript)), transcript)


def test_to_json_shape():
    transcript = make(("Ann", "Hi", 1.0, None))
    assert json.loads(to_json(transcript)) == {
        "source": "<input>",
        "format": "test",
        "cues": [{"speaker": "Ann", "text": "Hi", "start": 1.0, "end": None}],
    }


@pytest.mark.parametrize(
    "name",
    [
        "zoom_customer_call.vtt",
        "teams_standup.vtt",
        "support_call.srt",
        "product_review.sbv",
        "deepgram_like.json",
        "meeting_segments_list.json",
    ],
)
@pytest.mark.parametrize("writer", [to_vtt, to_srt, to_json])
def test_samples_survive_a_round_trip(name, writer):
    transcript = read_transcript(sample_path(name))
    again = parse_transcript(writer(transcript))
    assert same_turns(again, transcript)
    assert [(c.speaker, c.text) for c in again.cues] == [(c.speaker, c.text) for c in transcript.cues]


@pytest.mark.parametrize(
    "name", ["otter_interview.txt", "google_meet_export.txt", "chat_notes.md", "interview_notes.csv"]
)
def test_json_keeps_missing_times_missing(name):
    transcript = read_transcript(sample_path(name))
    again = parse_transcript(to_json(transcript))
    assert [(c.speaker, c.text, c.start, c.end) for c in again.cues] == [
        (c.speaker, c.text, c.start, c.end) for c in transcript.cues
    ]


def test_missing_end_times_end_at_the_next_start():
    transcript = read_transcript(sample_path("otter_interview.txt"))
    cues = parse_transcript(to_vtt(transcript)).cues
    assert [(c.start, c.end) for c in cues[:2]] == [(0.0, 7.0), (7.0, 21.0)]
    assert (cues[-1].start, cues[-1].end) == (3729.0, 3731.0)  # the last cue gets two seconds


def test_a_cue_without_a_start_cannot_be_written_as_captions():
    transcript = read_transcript(sample_path("google_meet_export.txt"))
    with pytest.raises(InvalidInputError, match=r"cue 1 \(line 8\) has no start time; WebVTT needs one"):
        to_vtt(transcript)
    with pytest.raises(InvalidInputError, match="SRT needs one"):
        to_srt(transcript)


def test_markup_like_text_survives():
    transcript = make(("Ann", "x --> y <i>not italic</i> &amp; {\\an8} 5 < 6", 0.0, 1.0))
    for writer in (to_vtt, to_srt, to_json):
        assert parse_transcript(writer(transcript)).cues[0].text == transcript.cues[0].text


@pytest.mark.parametrize("other", ["More text", "Also: text"])
def test_unknown_speaker_text_that_looks_like_a_name_prefix_keeps_its_prefix(other):
    transcript = make(("Unknown", "Note: this is text", 0.0, 1.0), ("Unknown", other, 1.0, 2.0))
    for writer in (to_vtt, to_srt):
        assert same_turns(parse_transcript(writer(transcript)), transcript)
