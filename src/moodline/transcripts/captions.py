"""Caption files: WebVTT (Zoom, Microsoft Teams, plain captions), SubRip (SRT) and YouTube SBV.

All three are cues of a timing line followed by text lines. One reader serves them, so they share
their tolerance and their errors:

* cue ids, NOTE/STYLE/REGION blocks (WebVTT), cue settings after the timing and inline markup
  (``<c.yellow>``, ``<i>``, ``<00:00:01.000>``, ``{\\an8}``) are dropped; character references are decoded;
* text lines are joined with a space, and text after a stray blank line stays with its cue;
* a timing line that cannot be read is an error naming its line, never silently skipped text.

Speakers come from WebVTT voice tags (``<v Name>``) or, when at least half of the untagged cues start
with one, from a ``Name:`` prefix, as Zoom writes them. That majority rule keeps a lone "Note: ..." in
plain captions from turning into a speaker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from moodline.transcripts.errors import TranscriptParseError
from moodline.transcripts.model import Cue, CueBuilder
from moodline.transcripts.speakers import clean_text, prefixes_name_speakers, split_speaker_prefix
from moodline.transcripts.timestamps import parse_timestamp

__all__ = ["SbvParser", "SrtParser", "VttParser"]

_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?(?:[ \t]+([^<>]*))?>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:[.\s][^<>]*)?>|<\d+(?::\d+)+(?:[.,]\d+)?>")
_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_REFERENCE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ARROW_TIMING = re.compile(r"(\S+?)\s*-->\s*(\S+)(?:\s.*)?")
_SBV_TIMING = re.compile(r"([\d:.]+)\s*,\s*([\d:.]+)")
# Two clock times joined by a dash, a short arrow or a comma: a timing line with a typo rather than words.
_TIMING_TYPO = re.compile(r"\d+:\d+(?::\d+)?(?:[.,]\d+)?\s*(?:-+>?|–|—|=+>|,)\s*\d+:\d+")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_SKIPPED_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")


def _plain_text(markup: str) -> str:
    """Caption text without tags or character references, whitespace collapsed."""
    text = _OVERRIDE.sub("", _TAG.sub("", markup))
    return clean_text(_REFERENCE.sub(lambda match: html.unescape(match[0]), text))


def _voiced_segments(markup: str) -> list[tuple[str | None, str]]:
    """Split cue text at ``<v Name>`` tags into ``(speaker or None, plain text)`` pieces."""
    pieces: list[tuple[str | None, str]] = []
    speaker: str | None = None
    position = 0
    for match in _VOICE.finditer(markup):
        pieces.append((speaker, markup[position : match.start()]))
        speaker = _plain_text(match[1] or "") or None
        position = match.end()
    pieces.append((speaker, markup[position:]))
    return [(name, text) for name, raw in pieces if (text := _plain_text(raw))]


def _quote(line: str, limit: int = 60) -> str:
    return repr(line if len(line) <= limit else line[: limit - 3] + "...")


@dataclass
class _Entry:
    number: int
    text: str
    block_start: bool


@dataclass
class _Caption:
    start: float
    end: float
    line: int
    entries: list[_Entry] = field(default_factory=list)


class _CaptionParser:
    """The shared reader; subclasses say what a timing line and a cue id look like."""

    name = ""
    example = ""
    timings_only_at_block_start = False
    timing_pattern = _ARROW_TIMING

    def claims_timing(self, line: str) -> bool:
        """Whether ``line`` presents itself as a timing line (and is an error if it cannot be read)."""
        return "-->" in line

    def read_timing(self, line: str) -> tuple[float, float] | None:
        match = self.timing_pattern.fullmatch(line)
        if match is None:
            return None
        try:
            return parse_timestamp(match[1]), parse_timestamp(match[2])
        except ValueError:
            return None

    def is_cue_id(self, entry: _Entry) -> bool:
        return entry.text.isdigit()

    def skips_block(self, line: str) -> bool:
        """Whether a block starting with ``line`` is not a cue (WebVTT's NOTE, STYLE and REGION)."""
        return False

    def body(self, lines: Sequence[str], source: str) -> list[tuple[int, str]]:
        """The numbered lines after any header."""
        return list(enumerate(lines, start=1))

    def sniff(self, lines: Sequence[str]) -> bool:
        raise NotImplementedError

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]:
        captions = self._captions(self._entries(self.body(lines, source)), source)
        if not captions:
            raise TranscriptParseError(
                f"expected a timestamp line like {self.example}, got the end of the input",
                source=source,
                line=len(lines),
            )
        return _assign_speakers(captions)

    def _entries(self, numbered: Sequence[tuple[int, str]]) -> list[_Entry]:
        entries: list[_Entry] = []
        after_blank, skipping = True, False
        for number, raw in numbered:
            line = raw.strip()
            if not line:
                after_blank, skipping = True, False
                continue
            if after_blank and self.skips_block(line):
                skipping = True
            if not skipping:
                entries.append(_Entry(number, line, after_blank))
            after_blank = False
        return entries

    def _fail(self, entry: _Entry, source: str) -> TranscriptParseError:
        return TranscriptParseError(
            f"expected a timestamp line like {self.example}, got {_quote(entry.text)}", source=source, line=entry.number
        )

    def _is_timing(self, entry: _Entry) -> bool:
        return (entry.block_start or not self.timings_only_at_block_start) and self.claims_timing(entry.text)

    def _captions(self, entries: Sequence[_Entry], source: str) -> list[_Caption]:
        """Group entries into captions: each timing line starts one, the lines after it are its text.

        Cue ids are recognised by position (just before a timing line), not by a blank line after the
        previous cue, so files that leave out blank lines still read. A line that looks like two clock
        times where a cue should start is a broken timing line, reported rather than read as text.
        """
        captions: list[_Caption] = []
        for position, entry in enumerate(entries):
            if self._is_timing(entry):
                times = self.read_timing(entry.text)
                if times is None:
                    raise self._fail(entry, source)
                previous = captions[-1].entries if captions else []
                if previous and previous[-1] is entries[position - 1] and self.is_cue_id(previous[-1]):
                    previous.pop()
                captions.append(_Caption(times[0], times[1], entry.number))
                continue
            following = entries[position + 1] if position + 1 < len(entries) else None
            if entry.block_start and _TIMING_TYPO.match(entry.text):
                raise self._fail(entry, source)
            if entry.block_start and following is not None and not following.block_start:
                if _TIMING_TYPO.match(following.text) and not self._is_timing(following):
                    raise self._fail(following, source)
            if not captions:
                if following is not None and self._is_timing(following) and self.is_cue_id(entry):
                    continue
                raise self._fail(entry, source)
            captions[-1].entries.append(entry)
        return captions


def _assign_speakers(captions: Sequence[_Caption]) -> list[Cue]:
    pieces = [
        (speaker, text, caption)
        for caption in captions
        for speaker, text in _voiced_segments(" ".join(entry.text for entry in caption.entries))
    ]
    use_prefixes = prefixes_name_speakers([text for speaker, text, _ in pieces if speaker is None])
    cues = CueBuilder()
    for speaker, text, caption in pieces:
        if speaker is None and use_prefixes and (split := split_speaker_prefix(text)) is not None:
            speaker, text = split
        cues.add(speaker, text, caption.start, caption.end, caption.line)
    return cues.cues


class VttParser(_CaptionParser):
    """WebVTT as Zoom (``Name: words``), Microsoft Teams (``<v Name>``) and caption tools write it."""

    name = "vtt"
    example = "00:00:01.000 --> 00:00:04.000"

    def sniff(self, lines: Sequence[str]) -> bool:
        first = next((line.strip() for line in lines if line.strip()), "")
        return _VTT_HEADER.fullmatch(first) is not None

    def is_cue_id(self, entry: _Entry) -> bool:
        return entry.block_start or entry.text.isdigit()

    def skips_block(self, line: str) -> bool:
        return _VTT_SKIPPED_BLOCK.fullmatch(line) is not None

    def body(self, lines: Sequence[str], source: str) -> list[tuple[int, str]]:
        numbered = list(enumerate(lines, start=1))
        position = next((i for i, (_, line) in enumerate(numbered) if line.strip()), None)
        if position is None:
            raise TranscriptParseError("empty input; expected a WEBVTT header", source=source, line=1)
        number, header = numbered[position]
        if _VTT_HEADER.fullmatch(header.strip()) is None:
            raise TranscriptParseError(
                f"expected the WEBVTT header, got {_quote(header.strip())}", source=source, line=number
            )
        # Header metadata ("Kind: captions") runs to the first blank line, or, in sloppy files, the first cue.
        position += 1
        while position < len(numbered) and numbered[position][1].strip() and "-->" not in numbered[position][1]:
            position += 1
        return numbered[position:]


class SrtParser(_CaptionParser):
    """SubRip: a cue number, ``00:00:01,000 --> 00:00:04,000``, then text (``Name:`` prefixes and ``<i>`` allowed).

    Also reads WebVTT-style timings without a WEBVTT header.
    """

    name = "srt"
    example = "00:00:01,000 --> 00:00:04,000"

    def sniff(self, lines: Sequence[str]) -> bool:
        return any("-->" in line and self.read_timing(line.strip()) is not None for line in lines)


class SbvParser(_CaptionParser):
    """YouTube SBV: ``0:00:01.000,0:00:04.000`` then text lines, cues separated by blank lines."""

    name = "sbv"
    example = "0:00:01.000,0:00:04.000"
    timings_only_at_block_start = True
    timing_pattern = _SBV_TIMING

    def claims_timing(self, line: str) -> bool:
        return _TIMING_TYPO.match(line) is not None or _SBV_TIMING.fullmatch(line) is not None

    def is_cue_id(self, entry: _Entry) -> bool:
        return False

    def sniff(self, lines: Sequence[str]) -> bool:
        first = next((line.strip() for line in lines if line.strip()), "")
        return self.read_timing(first) is not None
