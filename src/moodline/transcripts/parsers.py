"""Reading a transcript in any supported format: decoding, format detection and the parser registry.

Every parser takes the input as lines (BOM removed; CRLF, CR and LF all end a line) and returns
:class:`~moodline.transcripts.model.Cue` objects; anything it cannot read raises a
:class:`~moodline.transcripts.errors.TranscriptParseError` that names the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from moodline.core.errors import DataFileError, InvalidInputError
from moodline.transcripts.captions import SbvParser, SrtParser, VttParser
from moodline.transcripts.errors import TranscriptParseError
from moodline.transcripts.model import Cue, Transcript
from moodline.transcripts.structured import CsvParser, JsonParser
from moodline.transcripts.text_exports import OtterParser, PlainParser

__all__ = [
    "TRANSCRIPT_FORMATS",
    "PARSERS",
    "TranscriptParser",
    "decode_transcript",
    "detect_transcript_format",
    "get_parser",
    "parse_transcript",
    "read_transcript",
    "split_lines",
]

_UTF8_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class TranscriptParser(Protocol):
    """What a format needs: a name, a cheap guess at whether lines are in it, and the parser itself."""

    @property
    def name(self) -> str: ...

    def sniff(self, lines: Sequence[str]) -> bool: ...

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]: ...


_REGISTERED: tuple[TranscriptParser, ...] = (
    VttParser(),
    SrtParser(),
    SbvParser(),
    OtterParser(),
    PlainParser(),
    JsonParser(),
    CsvParser(),
)
PARSERS: Mapping[str, TranscriptParser] = MappingProxyType({parser.name: parser for parser in _REGISTERED})
"""Format name -> parser. ``parse_transcript(..., format=name)`` picks one; a parser object may be passed too."""
TRANSCRIPT_FORMATS: tuple[str, ...] = tuple(PARSERS)

# Most specific first: a WEBVTT header or JSON brackets are unmistakable, "Name: text" lines the least.
_DETECTION_ORDER = ("vtt", "json", "srt", "sbv", "csv", "otter", "plain")
_EXPECTED = (
    "expected a transcript: a WEBVTT header, SRT or SBV timings, JSON, a CSV header with a text column, "
    "Otter 'Name  0:34' lines or 'Name: text' lines"
)


def decode_transcript(data: str | bytes, source: str = "<input>") -> str:
    """Return ``data`` as text without a byte order mark; bytes must be UTF-8."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    body = data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        raise TranscriptParseError(
            f"not valid UTF-8 (byte offset {offset}); save the transcript as UTF-8",
            source=source,
            line=data.count(b"\n", 0, offset) + 1,
        ) from exc


def split_lines(text: str) -> list[str]:
    """Split at CRLF, lone CR or LF, and nothing else (unlike str.splitlines, which also splits at \\x0c)."""
    return _LINE_BREAK.split(text)


def _first_text_line(lines: Sequence[str]) -> tuple[int, str] | None:
    return next(((number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()), None)


def _detect(lines: Sequence[str], source: str) -> str:
    first = _first_text_line(lines)
    if first is None:
        raise TranscriptParseError("empty input; " + _EXPECTED, source=source, line=1)
    for name in _DETECTION_ORDER:
        if PARSERS[name].sniff(lines):
            return name
    raise TranscriptParseError(
        f"{_EXPECTED}, got {first[1][:60]!r}; pass format= one of {', '.join(TRANSCRIPT_FORMATS)}",
        source=source,
        line=first[0],
    )


def detect_transcript_format(data: str | bytes, source: str = "<input>") -> str:
    """Name the format of a transcript (one of :data:`TRANSCRIPT_FORMATS`), or raise TranscriptParseError.

    Example::

        detect_transcript_format("WEBVTT\\n\\n00:00.000 --> 00:02.000\\nHi")   # 'vtt'
    """
    return _detect(split_lines(decode_transcript(data, source)), source)


def get_parser(format: str) -> TranscriptParser:
    """The registered parser for a format name (case-insensitive)."""
    parser = PARSERS.get(format.strip().lower())
    if parser is None:
        raise InvalidInputError(
            f"unknown transcript format {format!r}; expected one of {', '.join(TRANSCRIPT_FORMATS)}"
        )
    return parser


def parse_transcript(
    data: str | bytes, format: str | TranscriptParser | None = None, source: str = "<input>"
) -> Transcript:
    """Parse a transcript from text or UTF-8 bytes, detecting the format unless ``format`` names one.

    ``source`` names the input in error messages. ``format`` may also be a configured parser, e.g.
    ``CsvParser(text="Utterance", speaker="Who")``.

    Example::

        transcript = parse_transcript("Alice: Hi!\\nBob: Hello, Alice.")
        transcript.format, transcript.speakers()   # ('plain', ['Alice', 'Bob'])
    """
    lines = split_lines(decode_transcript(data, source))
    if format is None:
        parser = PARSERS[_detect(lines, source)]
    elif isinstance(format, str):
        parser = get_parser(format)
    else:
        parser = format
    if _first_text_line(lines) is None:
        raise TranscriptParseError(
            f"empty input; expected a transcript in the {parser.name} format", source=source, line=1
        )
    cues = parser.parse(lines, source)
    if not cues:
        raise TranscriptParseError(
            f"no text found; expected a transcript in the {parser.name} format with at least one cue", source=source
        )
    return Transcript(tuple(cues), parser.name, source)


def read_transcript(path: str | Path, format: str | TranscriptParser | None = None) -> Transcript:
    """Read and parse a transcript file; errors name the file.

    Example::

        read_transcript("calls/2024-05-02.vtt").turns()
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    return parse_transcript(path.read_bytes(), format, source=str(path))
