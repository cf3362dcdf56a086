"""Each supported format, read from a realistic sample, down to exact speakers, texts and times."""

from __future__ import annotations

import pytest

from moodline.core.errors import InvalidInputError
from moodline.transcripts import (
    CsvParser,
    Cue,
    Transcript,
    detect_transcript_format,
    parse_transcript,
    read_transcript,
)

from .conftest import SAMPLES, sample_path


def read(name: str) -> Transcript:
    return read_transcript(sample_path(name))


def test_zoom_vtt_reads_name_prefixes_and_cue_ids():
    transcript = read("zoom_customer_call.vtt")
    assert transcript.format == "vtt"
    assert transcript.source.endswith("zoom_customer_call.vtt")
    assert len(transcript.cues) == 17
    assert transcript.speakers() == ["Dana Whitfield", "Marcus Lee", "Priya Raman"]
    assert transcript.cues[0] == Cue(
        speaker="Dana Whitfield",
        text="Hi Marcus, thanks for making time today. I know it's been a rough couple of weeks.",
        start=1.2,
        end=5.48,
        index=0,
        line=4,
    )
    assert transcript.cues[4].text.startswith("Hi Marcus. So, the root cause")  # "Priya Raman: " removed
    last = transcript.cues[-1]
    assert (last.speaker, last.text, last.start, last.end, last.line) == (
        "Dana Whitfield",
        "Thank you, Marcus. Talk soon.",
        75.2,
        77.4,
        68,
    )
    assert [cue.index for cue in transcript.cues] == list(range(17))


def test_teams_vtt_reads_voice_tags_short_timestamps_and_multiline_cues():
    transcript = read("teams_standup.vtt")
    assert transcript.speakers() == ["Sofia Hernández", "Tom O'Connor", "Aiko Tanaka"]
    assert len(transcript.cues) == 7
    first = transcript.cues[0]
    assert first.text == "Good morning, everyone. Let's keep this short, we have the release review at ten."
    assert (first.start, first.end, first.line) == (0.21, 4.87, 7)
    tom = transcript.cues[2]
    assert tom.text == (
        "Sure. Yesterday I finished the migration scripts. Today I'm pairing with Aiko on the flaky tests. No blockers."
    )
    aiko = transcript.cues[3]  # "00:15.800" has no hours; "&amp;" is a character reference
    assert (aiko.start, aiko.end) == (15.8, 19.05)
    assert "honestly & I think" in aiko.text
    assert transcript.cues[-1].end == 62.75  # 0:1:2.750


def test_plain_vtt_without_speakers_drops_blocks_settings_and_tags():
    transcript = read("lecture_captions.vtt")
    assert transcript.speakers() == ["Unknown"]
    assert [cue.text for cue in transcript.cues] == [
        "Welcome back, everyone.",
        "Today we're looking at photosynthesis, the process plants use to make sugar.",
        "It happens in the chloroplasts.",
        # one "Name:"-like cue among four is text, not a speaker
        "Light energy splits water: that releases oxygen.",
    ]
    assert [(cue.start, cue.end) for cue in transcript.cues] == [(0.0, 3.5), (3.5, 8.25), (8.25, 12.0), (12.0, 16.4)]
    assert transcript.cues[0].line == 12


def test_otter_export_reads_speaker_lines_and_drops_the_footer():
    transcript = read("otter_interview.txt")
    assert transcript.format == "otter"
    assert transcript.speakers() == ["Jordan Reyes", "Amara Okafor"]
    assert len(transcript.cues) == 6
    assert transcript.cues[3].text == (
        "Probably when our first customer paid us. That was a scary, wonderful day. We celebrated with cheap pizza."
    )
    assert [cue.start for cue in transcript.cues] == [0.0, 7.0, 21.0, 24.0, 3725.0, 3729.0]
    assert all(cue.end is None for cue in transcript.cues)
    assert transcript.cues[4].line == 14  # "Jordan Reyes 1:02:05", one space before the time
    assert not any("otter.ai" in cue.text for cue in transcript.cues)


def test_google_meet_export_drops_the_title_block_and_uses_timestamp_lines():
    transcript = read("google_meet_export.txt")
    assert transcript.format == "plain"
    assert transcript.speakers() == ["Elena Rossi", "Ben Carter", "Grace Kim"]
    assert [(cue.speaker, cue.start) for cue in transcript.cues] == [
        ("Elena Rossi", 0.0),
        ("Ben Carter", None),
        ("Grace Kim", None),
        ("Ben Carter", None),
        ("Elena Rossi", 300.0),
        ("Grace Kim", None),
        ("Ben Carter", 570.0),
    ]
    assert transcript.cues[5].text == "That works for me. And I can draft the billing plan by next week."
    assert transcript.cues[0].line == 7
    assert not any("Meeting ended" in cue.text or "editable" in cue.text for cue in transcript.cues)


def test_name_colon_chat_with_markdown_bold_names():
    transcript = read("chat_notes.md")
    assert [(cue.speaker, cue.text) for cue in transcript.cues] == [
        ("Hannah", "Did the new onboarding flow ship?"),
        ("Omar", "Yes, yesterday evening. Early numbers look great!"),
        ("Omar", "Sign-ups are up about 12% so far."),
        ("Hannah", "That's fantastic news. I'll tell the board."),
        ("Liu Wei", "One caveat: mobile Safari users still see the old flow."),
        ("Omar", "Ugh, right. I'll fix that today."),
    ]
    assert all(cue.start is None and cue.end is None for cue in transcript.cues)


def test_srt_reads_name_prefixes_multiline_text_and_italics():
    transcript = read("support_call.srt")
    assert transcript.format == "srt"
    assert transcript.speakers() == ["Agent", "Caller"]
    assert len(transcript.cues) == 8
    assert transcript.cues[1] == Cue(
        "Caller",
        "Hi Kim. My router keeps dropping the connection every few minutes, and I'm losing my mind.",
        3.6,
        8.1,
        1,
        6,
    )
    assert transcript.cues[2].text == "I'm sorry to hear that. Let's sort it out together."
    assert transcript.cues[5].text == "It says 2.4.1."


def test_sbv():
    transcript = read("product_review.sbv")
    assert transcript.format == "sbv"
    assert len(transcript.cues) == 4
    assert transcript.cues[1].text == "Today I'm reviewing the new Aurora headphones, and I have some mixed feelings."
    assert [(cue.start, cue.end) for cue in transcript.cues] == [(0.0, 3.2), (3.2, 7.85), (7.85, 11.4), (11.4, 15.0)]
    assert transcript.speakers() == ["Unknown"]


def test_json_object_form_nested_under_results():
    transcript = read("deepgram_like.json")
    assert transcript.format == "json"
    assert transcript.speakers() == ["Speaker 0", "Speaker 1"]
    assert transcript.cues[1] == Cue(
        "Speaker 1",
        "Hi, I need to move my appointment on Thursday. Something came up at work.",
        4.6,
        9.85,
        1,
        6,
    )


def test_json_list_form_with_key_aliases_and_time_styles():
    transcript = read("meeting_segments_list.json")
    assert [(cue.speaker, cue.text, cue.start, cue.end) for cue in transcript.cues] == [
        ("Rachel Green", "Let's review the budget numbers.", 2.0, 6.5),
        ("Ross Geller", "We're about 8% over on travel, which worries me.", 7.0, 12.25),
        ("Rachel Green", "That's not great.", 12.9, 16.0),  # words list, times in ms
        ("Monica Geller", "I can cut the offsite catering.", 16.5, 20.0),  # start + duration
        ("Unknown", "Sounds good.", 21.0, 22.5),  # null speaker, numeric strings
    ]
    assert [cue.line for cue in transcript.cues] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "document",
    [
        '{"segments": [{"speaker": "A", "text": "Hi", "start": 1, "end": 2}]}',
        '{"transcript": [{"speaker": "A", "text": "Hi", "start": 1, "end": 2}]}',
        '{"utterances": [{"speaker": "A", "text": "Hi", "start": 1, "end": 2}]}',
        '[{"Speaker": "A", "Content": "Hi", "StartTime": "00:00:01", "EndTime": "0:0:2.0"}]',
        '{"data": {"turns": [{"speaker_name": "A", "words": ["Hi"], "startMs": 1000, "endMs": 2000}]}}',
    ],
)
def test_json_container_shapes(document):
    transcript = parse_transcript(document)
    assert [(c.speaker, c.text, c.start, c.end) for c in transcript.cues] == [("A", "Hi", 1.0, 2.0)]


def test_csv_finds_columns_from_common_header_names():
    transcript = read("interview_notes.csv")
    assert transcript.format == "csv"
    assert [(cue.speaker, cue.start, cue.end, cue.line) for cue in transcript.cues] == [
        ("Interviewer", 1.0, 4.5, 2),
        ("Candidate", 5.0, 9.0, 3),
        ("Interviewer", 9.5, 12.0, 4),
        ("Candidate", 12.5, None, 6),
    ]
    assert transcript.cues[1].text == "Honestly, pretty stressful. The train was late, but I made it!"


def test_csv_with_explicit_columns_and_semicolons():
    data = "Who;Said;At\nAna;Bonjour, ça va ?;0:01\nLeo;Oui;0:03\n"
    transcript = parse_transcript(data, format=CsvParser(speaker="Who", text="said", start="At"))
    assert [(c.speaker, c.text, c.start, c.end) for c in transcript.cues] == [
        ("Ana", "Bonjour, ça va ?", 1.0, None),
        ("Leo", "Oui", 3.0, None),
    ]


@pytest.mark.parametrize("delimiter", ["", ";;", '"'])
def test_csv_delimiter_must_be_one_character(delimiter):
    with pytest.raises(InvalidInputError, match="delimiter must be one character"):
        CsvParser(delimiter=delimiter)


def test_tsv_and_quoted_multiline_fields():
    data = 'speaker\ttext\nAna\t"first line\nsecond line"\nLeo\tok\n'
    transcript = parse_transcript(data)
    assert transcript.format == "csv"
    assert [(c.text, c.line) for c in transcript.cues] == [("first line second line", 2), ("ok", 4)]


DETECTED = {
    "zoom_customer_call.vtt": "vtt",
    "teams_standup.vtt": "vtt",
    "lecture_captions.vtt": "vtt",
    "otter_interview.txt": "otter",
    "google_meet_export.txt": "plain",
    "chat_notes.md": "plain",
    "support_call.srt": "srt",
    "product_review.sbv": "sbv",
    "deepgram_like.json": "json",
    "meeting_segments_list.json": "json",
    "interview_notes.csv": "csv",
}


def test_every_sample_has_an_expected_format():
    assert sorted(DETECTED) == sorted(path.name for path in SAMPLES.iterdir())


@pytest.mark.parametrize(("name", "expected"), sorted(DETECTED.items()))
def test_detection_picks_the_right_format(name, expected):
    data = sample_path(name).read_bytes()
    assert detect_transcript_format(data) == expected
    assert detect_transcript_format(data.decode("utf-8")) == expected
    assert parse_transcript(data).format == expected
    # and naming the format explicitly gives the same cues
    assert parse_transcript(data, format=expected).cues == parse_transcript(data).cues


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_bom_and_line_ending_variants_parse_identically(name):
    text = sample_path(name).read_text(encoding="utf-8")
    expected = parse_transcript(text)
    for variant in (
        "\ufeff" + text,
        text.replace("\n", "\r\n"),
        text.replace("\n", "\r"),
        "\ufeff" + text.replace("\n", "\r\n"),
    ):
        assert parse_transcript(variant).cues == expected.cues
        assert parse_transcript(variant.encode("utf-8")).cues == expected.cues
    assert parse_transcript(b"\xef\xbb\xbf" + text.encode("utf-8")).cues == expected.cues


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_surrounding_whitespace_and_extra_blank_lines_change_nothing_but_line_numbers(name):
    text = sample_path(name).read_text(encoding="utf-8")
    expected = [(c.speaker, c.text, c.start, c.end) for c in parse_transcript(text).cues]
    padded = parse_transcript("\n\n  " + text.replace("\n", "  \n") + "\n\n\n")
    assert [(c.speaker, c.text, c.start, c.end) for c in padded.cues] == expected


def test_vtt_header_without_blank_line_and_cues_without_ids_or_spaces_around_the_arrow():
    transcript = parse_transcript("WEBVTT\n00:01.000-->00:02.500\n<v.loud Sam>Hey!</v>\n")
    assert [(c.speaker, c.text, c.start, c.end) for c in transcript.cues] == [("Sam", "Hey!", 1.0, 2.5)]


def test_vtt_cue_with_two_voices_becomes_two_cues():
    transcript = parse_transcript("WEBVTT\n\n00:01.000 --> 00:03.000\n<v Ann>Ready?</v> <v Bo>Yes.</v>\n")
    assert [(c.speaker, c.text, c.index) for c in transcript.cues] == [("Ann", "Ready?", 0), ("Bo", "Yes.", 1)]


def test_text_after_a_stray_blank_line_stays_with_its_cue():
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nAnn: first part\n\nsecond part\n\n2\n00:00:03,000 --> 00:00:04,000\nBo: hi\n"
    )
    transcript = parse_transcript(text)
    assert [(c.speaker, c.text) for c in transcript.cues] == [("Ann", "first part second part"), ("Bo", "hi")]


def test_srt_without_blank_lines_between_cues():
    text = "1\n00:00:01,000 --> 00:00:02,000\nAnn: one\n2\n00:00:03,000 --> 00:00:04,000\nBo: two\n"
    assert [(c.speaker, c.text) for c in parse_transcript(text).cues] == [("Ann", "one"), ("Bo", "two")]


def test_plain_text_without_speakers_becomes_unknown_paragraphs():
    transcript = parse_transcript("First paragraph\ncontinues here.\n\nSecond one.\n", format="plain")
    assert [(c.speaker, c.text, c.line) for c in transcript.cues] == [
        ("Unknown", "First paragraph continues here.", 1),
        ("Unknown", "Second one.", 4),
    ]


def test_meet_export_that_starts_with_a_timestamp_line_is_not_otter():
    text = "00:00:00\n\nAnn: Shall we start?\nBo: Yes.\n"
    assert detect_transcript_format(text) == "plain"
    assert [(c.speaker, c.start) for c in parse_transcript(text).cues] == [("Ann", 0.0), ("Bo", None)]


def test_plain_lines_with_timestamp_prefixes():
    transcript = parse_transcript("[00:00:05] Ann: hello\n00:01:10 Bo: hi there\n10:30 works for me\n")
    assert [(c.speaker, c.text, c.start) for c in transcript.cues] == [
        ("Ann", "hello", 5.0),
        ("Bo", "hi there 10:30 works for me", 70.0),  # an unbracketed time before words is words
    ]
