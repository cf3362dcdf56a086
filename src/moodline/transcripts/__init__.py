"""Reading meeting and call transcripts: WebVTT, SRT, SBV, Otter.ai, "Name: text", JSON and CSV.

Example::

    from moodline.transcripts import parse_transcript

    transcript = parse_transcript(Path("call.vtt").read_bytes(), source="call.vtt")
    for utterance in transcript.utterances(max_chars=300):
        print(utterance.speaker, utterance.start, utterance.text)
"""

from __future__ import annotations

from moodline.transcripts.captions import SbvParser, SrtParser, VttParser
from moodline.transcripts.errors import TranscriptParseError
from moodline.transcripts.model import Cue, Transcript, Turn, Utterance
from moodline.transcripts.parsers import (
    PARSERS,
    TRANSCRIPT_FORMATS,
    TranscriptParser,
    decode_transcript,
    detect_transcript_format,
    get_parser,
    parse_transcript,
    read_transcript,
)
from moodline.transcripts.sentences import split_sentences
from moodline.transcripts.serialise import to_json, to_srt, to_vtt
from moodline.transcripts.speakers import UNKNOWN_SPEAKER
from moodline.transcripts.structured import CsvParser, JsonParser
from moodline.transcripts.text_exports import OtterParser, PlainParser
from moodline.transcripts.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "TRANSCRIPT_FORMATS",
    "PARSERS",
    "UNKNOWN_SPEAKER",
    "CsvParser",
    "Cue",
    "JsonParser",
    "OtterParser",
    "PlainParser",
    "SbvParser",
    "SrtParser",
    "Transcript",
    "TranscriptParseError",
    "TranscriptParser",
    "Turn",
    "Utterance",
    "VttParser",
    "decode_transcript",
    "detect_transcript_format",
    "format_timestamp",
    "get_parser",
    "parse_timestamp",
    "parse_transcript",
    "read_transcript",
    "split_sentences",
    "to_json",
    "to_srt",
    "to_vtt",
]
