"""Input that is not a readable transcript fails with one clear TranscriptParseError naming the line."""

from __future__ import annotations

import pytest

from moodline.core.errors import DataFileError, InvalidInputError
from moodline.transcripts import TranscriptParseError, parse_transcript, read_transcript

ZOOM_WITH_BROKEN_TIMESTAMP = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
Ann: Hi there.

2
00:00:0x.000 --> 00:00:06.000
Bo: Hello.
"""


def test_broken_vtt_timestamp_names_the_line_and_the_expected_form():
    with pytest.raises(TranscriptParseError) as caught:
        parse_transcript(ZOOM_WITH_BROKEN_TIMESTAMP, source="call.vtt")
    error = caught.value
    assert str(error) == (
        "call.vtt, line 8: expected a timestamp line like 00:00:01.000 --> 00:00:04.000, "
        "got '00:00:0x.000 --> 00:00:06.000'"
    )
    assert (error.line, error.source) == (8, "call.vtt")
    assert isinstance(error, InvalidInputError)
    assert error.status_code == 422
    assert error.error_type == "invalid_transcript"


@pytest.mark.parametrize(
    ("text", "format", "message"),
    [
        # WebVTT
        (
            ZOOM_WITH_BROKEN_TIMESTAMP.replace("0x", "05").replace(" --> 00:00:06", " - 00:00:06"),
            None,
            "line 8: expected a timestamp line",
        ),
        (
            "WEBVTT\n\n00:00:01.000 -->\nhi\n",
            None,
            "line 3: expected a timestamp line like 00:00:01.000 --> 00:00:04.000",
        ),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:64.000\nhi\n", None, "line 3: expected a timestamp line"),
        ("WEBVTT\n\nHello there\n", None, "line 3: expected a timestamp line"),
        ("WEBVTT\n", None, "line 2: expected a timestamp line like 00:00:01.000 --> 00:00:04.000, got the end"),
        ("Hello\n\n00:01.000 --> 00:02.000\nhi\n", "vtt", "line 1: expected the WEBVTT header, got 'Hello'"),
        # SRT and SBV
        (
            "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 --> 00:00:0x,000\nho\n",
            None,
            "line 6: expected a timestamp line like 00:00:01,000 --> 00:00:04,000",
        ),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 -> 00:00:04,000\nho\n",
            None,
            "line 6: expected a timestamp line",
        ),
        (
            "0:00:01.000,0:00:02.000\nhi\n\n0:00:03.000,0:00:0x.000\nho\n",
            None,
            "line 4: expected a timestamp line like 0:00:01.000,0:00:04.000",
        ),
        ("Intro text\n1\n00:00:01,000 --> 00:00:02,000\nhi\n", "srt", "line 1: expected a timestamp line"),
        # Otter
        ("Hello there\nno speakers here\n", "otter", "line 1: expected a speaker line like 'Alice Smith  0:34'"),
        # JSON
        ('[\n  {"speaker": "A", "text": "x"},\n  {"speaker": "B",\n', None, "line 4: invalid JSON"),
        (
            '{"segments": [\n  {"speaker": "A", "text": "x"},\n  {"speaker": "B"}\n]}',
            None,
            "line 3: expected a text field",
        ),
        (
            '[\n {"text": "x", "start": "soon"}\n]',
            None,
            "line 2: expected 'start' to be seconds or a time like 00:01:02.500, got 'soon'",
        ),
        ('[\n {"text": "x", "end": -3}\n]', None, "line 2: expected 'end' to be seconds"),
        ('[\n {"text": "x", "start": NaN}\n]', None, "line 2: expected 'start' to be seconds"),
        ('[\n {"text": "x", "speaker": ["A"]}\n]', None, "line 2: expected 'speaker' to be a name, got a list"),
        ('{"title": "Weekly sync"}', None, "line 1: expected a list of {speaker, text, start, end} objects"),
        ("[1, 2]", "json", "line 1: expected an object with speaker and text fields, got a number"),
        ("[" * 100_000, "json", "JSON"),
        # CSV
        ("speaker,text,start\nA,hi,0:01\nB,ho,later\n", None, "line 3: expected column 'start' to hold seconds"),
        ("who,what\nA,hi\n", "csv", "line 1: expected a header row naming a text column"),
        ('speaker,text\nA,"unterminated\n', "csv", "malformed CSV"),
    ],
)
def test_malformed_input_names_the_line(text, format, message):
    with pytest.raises(TranscriptParseError) as caught:
        parse_transcript(text, format=format)
    assert message in str(caught.value)


@pytest.mark.parametrize("data", ["", "  \n\n\t\n", b"", b"\xef\xbb\xbf", "\ufeff\r\n"])
def test_empty_input(data):
    with pytest.raises(TranscriptParseError, match=r"line 1: empty input; expected a transcript"):
        parse_transcript(data)


@pytest.mark.parametrize("format", ["vtt", "srt", "sbv", "otter", "plain", "json", "csv"])
def test_empty_input_with_an_explicit_format(format):
    with pytest.raises(
        TranscriptParseError, match=f"line 1: empty input; expected a transcript in the {format} format"
    ):
        parse_transcript("\n\n", format=format)


def test_random_binary_names_the_byte_offset():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    with pytest.raises(TranscriptParseError, match=r"<input>, line 1: not valid UTF-8 \(byte offset 0\)"):
        parse_transcript(png)


def test_undecodable_byte_offset_counts_the_bom_and_names_the_line():
    data = b"\xef\xbb\xbfAnn: hi\nBo: caf\xe9\n"
    with pytest.raises(TranscriptParseError) as caught:
        parse_transcript(data, source="chat.txt")
    assert str(caught.value) == "chat.txt, line 2: not valid UTF-8 (byte offset 18); save the transcript as UTF-8"
    assert data[18:19] == b"\xe9"


def test_prose_is_not_a_transcript():
    with pytest.raises(TranscriptParseError) as caught:
        parse_transcript("\nJust some prose without any structure.\nAnother line.\n")
    message = str(caught.value)
    assert message.startswith("<input>, line 2: expected a transcript: a WEBVTT header")
    assert "got 'Just some prose without any structure.'" in message
    assert "pass format= one of vtt, srt, sbv, otter, plain, json, csv" in message


def test_cues_without_any_text():
    with pytest.raises(TranscriptParseError, match="no text found"):
        parse_transcript("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i></i>\n")


def test_unknown_format_name_is_a_bad_option_not_a_parse_error():
    with pytest.raises(InvalidInputError, match="unknown transcript format 'docx'; expected one of vtt, srt") as caught:
        parse_transcript("Ann: hi", format="docx")
    assert not isinstance(caught.value, TranscriptParseError)


def test_format_names_are_case_insensitive():
    assert parse_transcript("Ann: hi", format=" Plain ").format == "plain"


def test_read_transcript_names_the_file(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_transcript(tmp_path / "missing.vtt")
    path = tmp_path / "call.vtt"
    path.write_text(ZOOM_WITH_BROKEN_TIMESTAMP, encoding="utf-8")
    with pytest.raises(TranscriptParseError, match=rf"^{path}, line 8: "):
        read_transcript(path)
