"""Transcripts as data: JSON from transcription services and CSV from spreadsheets or exports.

JSON is a list of ``{speaker, text, start, end}`` objects, or an object holding such a list under
``cues``, ``utterances``, ``segments``, ``transcript`` (and a few more names, also one level down under
``results`` or ``data``). Field names are matched case- and underscore-insensitively with common
aliases (``name``/``speaker_name``, ``content``/``words``, ``start_time``, ``start_ms``...). Times are
seconds as numbers or numeric strings, clock strings like ``00:01:02.500``, or milliseconds under
``*_ms`` names. Errors name the line the offending object starts on.

CSV needs a header row; the text column (and optionally speaker, start and end) is found by the same
aliases, or named explicitly: ``CsvParser(text="Utterance", speaker="Who")``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from moodline.core.errors import InvalidInputError
from moodline.transcripts.errors import TranscriptParseError
from moodline.transcripts.model import Cue, CueBuilder
from moodline.transcripts.timestamps import parse_seconds, parse_timestamp

__all__ = ["CsvParser", "JsonParser"]

_LIST_KEYS = ("cues", "utterances", "segments", "transcript", "turns", "messages", "captions", "entries")
_NESTING_KEYS = ("results", "data")
_SPEAKER_KEYS = ("speaker", "name", "speakername", "speakerlabel", "participant", "user", "author", "who", "from")
_TEXT_KEYS = ("text", "content", "transcript", "utterance", "message", "body", "caption", "sentence", "words")
_WORD_KEYS = ("punctuatedword", "text", "word", "content")
# (alias, seconds per unit)
_START_KEYS: tuple[tuple[str, float], ...] = (
    ("start", 1.0),
    ("starttime", 1.0),
    ("startseconds", 1.0),
    ("begin", 1.0),
    ("offset", 1.0),
    ("startms", 0.001),
    ("starttimems", 0.001),
    ("offsetms", 0.001),
)
_END_KEYS: tuple[tuple[str, float], ...] = (
    ("end", 1.0),
    ("endtime", 1.0),
    ("endseconds", 1.0),
    ("stop", 1.0),
    ("endms", 0.001),
    ("endtimems", 0.001),
)
_DURATION_KEYS = (("duration", 1.0), ("durationms", 0.001))
_TIME_HINT = "seconds or a time like 00:01:02.500"

Fail = Callable[[str], TranscriptParseError]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).lower()


def _pick(fields: Mapping[str, Any], aliases: Sequence[str]) -> tuple[str, Any] | None:
    """The first alias present in ``fields`` (matched by :func:`_key`), as ``(original key, value)``."""
    by_key: dict[str, str] = {}
    for original in fields:
        by_key.setdefault(_key(original), original)
    for alias in aliases:
        if alias in by_key:
            return by_key[alias], fields[by_key[alias]]
    return None


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


class _Located:
    """Offsets of JSON values, for error messages and cue line numbers; run on text json.loads accepted."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [match.start() for match in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect_right(self.newlines, offset - 1) + 1

    def skip(self, position: int) -> int:
        match = _WHITESPACE.match(self.text, position)
        return match.end() if match else position

    def array_items(self, position: int) -> list[int]:
        offsets: list[int] = []
        position = self.skip(position + 1)
        while self.text[position] != "]":
            offsets.append(position)
            _, position = _DECODER.raw_decode(self.text, position)
            position = self.skip(position)
            if self.text[position] == ",":
                position = self.skip(position + 1)
        return offsets

    def object_values(self, position: int) -> dict[str, int]:
        offsets: dict[str, int] = {}
        position = self.skip(position + 1)
        while self.text[position] != "}":
            key, position = _DECODER.raw_decode(self.text, position)
            position = self.skip(self.skip(position) + 1)
            offsets[key] = position
            _, position = _DECODER.raw_decode(self.text, position)
            position = self.skip(position)
            if self.text[position] == ",":
                position = self.skip(position + 1)
        return offsets


class JsonParser:
    """A JSON list of ``{speaker, text, start, end}`` objects, or an object holding one (see the module docs)."""

    name = "json"

    def sniff(self, lines: Sequence[str]) -> bool:
        start = "".join(lines[:20]).lstrip()
        return start.startswith("{") or (start.startswith("[") and start[1:].lstrip()[:1] in ("{", "]"))

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]:
        text = "\n".join(lines)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TranscriptParseError(
                f"invalid JSON ({exc.msg}, column {exc.colno})", source=source, line=exc.lineno
            ) from exc
        except (RecursionError, ValueError) as exc:
            raise TranscriptParseError(f"JSON that cannot be read ({type(exc).__name__})", source=source) from exc
        located = _Located(text)
        items, offsets = self._items(document, located, located.skip(0), source)
        cues = CueBuilder()
        for item, offset in zip(items, offsets, strict=True):
            line = located.line(offset)
            if not isinstance(item, dict):
                raise TranscriptParseError(
                    f"expected an object with speaker and text fields, got {_kind(item)}", source=source, line=line
                )
            speaker, text_value, start, end = _fields(item, partial(_error, source=source, line=line))
            cues.add(speaker, text_value, start, end, line)
        return cues.cues

    def _items(self, document: Any, located: _Located, offset: int, source: str) -> tuple[list[Any], list[int]]:
        if isinstance(document, list):
            return document, located.array_items(offset)
        if isinstance(document, dict):
            values = located.object_values(offset)
            for alias in _LIST_KEYS:
                found = _pick(document, (alias,))
                if found is not None and isinstance(found[1], list):
                    return found[1], located.array_items(values[found[0]])
            for alias in _NESTING_KEYS:
                found = _pick(document, (alias,))
                if found is not None and isinstance(found[1], dict):
                    return self._items(found[1], located, values[found[0]], source)
        raise TranscriptParseError(
            "expected a list of {speaker, text, start, end} objects, or an object with a "
            '"utterances", "segments" or "transcript" list',
            source=source,
            line=located.line(offset),
        )


def _error(reason: str, source: str, line: int) -> TranscriptParseError:
    return TranscriptParseError(reason, source=source, line=line)


def _fields(item: Mapping[str, Any], fail: Fail) -> tuple[str | None, str, float | None, float | None]:
    """``(speaker, text, start, end)`` of one JSON object; ``fail(reason)`` builds the error to raise."""
    found = _pick(item, _TEXT_KEYS)
    if found is None:
        keys = ", ".join(repr(key[:40]) for key in list(item)[:10]) or "no fields"
        raise fail(f"expected a text field (one of {', '.join(_TEXT_KEYS)}); the object has {keys}")
    text = _text(found[0], found[1], fail)
    speaker = _speaker(_pick(item, _SPEAKER_KEYS), fail)
    start = _time(item, _START_KEYS, fail)
    end = _time(item, _END_KEYS, fail)
    duration = _time(item, _DURATION_KEYS, fail)
    if end is None and start is not None and duration is not None:
        end = start + duration
    return speaker, text, start, end


def _text(key: str, value: Any, fail: Fail) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # word-level output: ["Hello", "there"] or [{"word": "Hello", ...}, ...]
        words = []
        for word in value:
            if isinstance(word, dict):
                found = _pick(word, _WORD_KEYS)
                word = found[1] if found is not None else None
            if not isinstance(word, str):
                raise fail(f"expected {key!r} to hold words as strings or objects with a word field")
            words.append(word)
        return " ".join(words)
    raise fail(f"expected {key!r} to be a string, got {_kind(value)}")


def _speaker(found: tuple[str, Any] | None, fail: Fail) -> str | None:
    if found is None or found[1] is None:
        return None
    key, value = found
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"Speaker {value}"
    raise fail(f"expected {key!r} to be a name, got {_kind(value)}")


def _time(item: Mapping[str, Any], aliases: Sequence[tuple[str, float]], fail: Fail) -> float | None:
    """The time under the first of ``aliases`` (each with its seconds per unit) that ``item`` has, or None."""
    found = _pick(item, [alias for alias, _ in aliases])
    if found is None or found[1] is None or found[1] == "":
        return None
    key, value = found
    try:
        return _seconds(value, dict(aliases)[_key(key)])
    except (TypeError, ValueError, OverflowError):
        raise fail(f"expected {key!r} to be {_TIME_HINT}, got {value!r:.60}") from None


def _seconds(value: object, scale: float) -> float:
    """A finite, non-negative time in seconds; TypeError or ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(type(value).__name__)
    if isinstance(value, str):
        seconds = parse_timestamp(value) if ":" in value else parse_seconds(value) * scale
    else:
        seconds = float(value) * scale
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a time: {value!r}")
    return seconds


def _cell_time(value: str, column: str, fail: Fail) -> float | None:
    if not value.strip():
        return None
    try:
        return _seconds(value.strip(), 1.0)
    except (TypeError, ValueError, OverflowError):
        raise fail(f"expected column {column!r} to hold {_TIME_HINT}, got {value!r:.60}") from None


_CSV_DELIMITERS = ("\t", ",", ";", "|")


@dataclass(frozen=True)
class CsvParser:
    """CSV (or TSV) with a header row. Columns are found by name, or given: ``CsvParser(text="Said", speaker="Who")``.

    ``delimiter`` defaults to whichever of tab, comma, semicolon or bar the header uses most.
    """

    speaker: str | None = None
    text: str | None = None
    start: str | None = None
    end: str | None = None
    delimiter: str | None = None

    def __post_init__(self) -> None:
        if self.delimiter is not None and (len(self.delimiter) != 1 or self.delimiter in '"\r\n'):
            raise InvalidInputError(f"delimiter must be one character, not a quote or newline; got {self.delimiter!r}")

    @property
    def name(self) -> str:
        return "csv"

    def sniff(self, lines: Sequence[str]) -> bool:
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            return False
        try:
            header = next(csv.reader([first], delimiter=self._delimiter(first)))
        except (csv.Error, StopIteration):
            return False
        return len(header) >= 2 and _pick(dict.fromkeys(header), _TEXT_KEYS) is not None

    def _delimiter(self, header: str) -> str:
        if self.delimiter:
            return self.delimiter
        counts = {delimiter: header.count(delimiter) for delimiter in _CSV_DELIMITERS}
        best = max(counts, key=lambda delimiter: counts[delimiter])
        return best if counts[best] else ","

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]:
        skipped = next((i for i, line in enumerate(lines) if line.strip()), None)
        if skipped is None:
            raise TranscriptParseError("empty input; expected a CSV header row", source=source, line=1)
        # Trailing spaces after a closing quote would trip strict quoting; they never carry text.
        body = "\n".join(line.rstrip(" ") for line in lines[skipped:])
        delimiter = self._delimiter(lines[skipped])
        reader = csv.reader(io.StringIO(body), delimiter=delimiter, strict=True, skipinitialspace=delimiter != "\t")
        cues = CueBuilder()
        try:
            header = next(reader)
            columns = self._columns(header, source, skipped + 1)
            line = skipped + reader.line_num
            for record in reader:
                first_line, line = line + 1, skipped + reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                cells = {role: record[index] if index < len(record) else "" for role, index in columns.items()}
                fail = partial(_error, source=source, line=first_line)
                start = _cell_time(cells["start"], header[columns["start"]], fail) if "start" in cells else None
                end = _cell_time(cells["end"], header[columns["end"]], fail) if "end" in cells else None
                cues.add(cells.get("speaker"), cells["text"], start, end, first_line)
        except csv.Error as exc:
            raise TranscriptParseError(f"malformed CSV ({exc})", source=source, line=skipped + reader.line_num) from exc
        return cues.cues

    def _columns(self, header: Sequence[str], source: str, line: int) -> dict[str, int]:
        """Map the roles speaker/text/start/end to column positions."""
        stripped: dict[str, int] = {}
        for index, cell in enumerate(header):
            stripped.setdefault(cell.strip(), index)
        named = ", ".join(repr(cell[:40]) for cell in header[:12]) + (", ..." if len(header) > 12 else "")
        roles: dict[str, int] = {}
        defaults = {
            "speaker": _SPEAKER_KEYS,
            "text": _TEXT_KEYS,
            "start": ("start", "starttime", "startseconds", "begin", "offset", "time", "timestamp", "starts"),
            "end": ("end", "endtime", "endseconds", "stop", "ends"),
        }
        for role, aliases in defaults.items():
            chosen: str | None = getattr(self, role)
            if chosen is not None:
                position = stripped.get(chosen.strip())
                if position is None:
                    found = _pick(stripped, (_key(chosen),))
                    position = stripped[found[0]] if found else None
                if position is None:
                    raise TranscriptParseError(
                        f"no {role} column {chosen!r} in the header; it has {named}",
                        source=source,
                        line=line,
                    )
                roles[role] = position
            elif (found := _pick(stripped, aliases)) is not None:
                roles[role] = stripped[found[0]]
        if "text" not in roles:
            raise TranscriptParseError(
                f"expected a header row naming a text column ({', '.join(_TEXT_KEYS)}); got {named}",
                source=source,
                line=line,
            )
        return roles
