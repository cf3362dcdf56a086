"""Speaker-labelled text: Otter.ai exports, and "Name: text" transcripts (Google Meet, chats, notes).

Otter writes a speaker line (``Alice Smith  0:34``) and the words on the following lines, and ends
with a "Transcribed by https://otter.ai" footer, which is dropped.

The plain reader takes one cue per ``Name: text`` line (also ``**Name:** text`` and ``**Name**: text``
from Markdown notes); lines without a name continue the cue above them, or, after a blank line, start
a new cue of the same speaker. A timestamp line (``00:01:23`` or ``[00:01:23]``, as Google Meet
exports put them) gives its start time to the next cue, and so does a timestamp before the name
(``[00:01:23] Alice: text``). In a file with speaker or timestamp lines, the lines before the first of
them are a title block (Meet's title and attendee list) and are dropped; a file without any becomes
one speakerless cue per paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from moodline.transcripts.errors import TranscriptParseError
from moodline.transcripts.model import Cue, CueBuilder
from moodline.transcripts.speakers import clean_text, is_speaker_name, split_speaker_prefix
from moodline.transcripts.timestamps import parse_timestamp

__all__ = ["OtterParser", "PlainParser"]

_CLOCK = r"(?:\d{1,6}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_OTTER_SPEAKER_LINE = re.compile(r"(?P<name>\S.*?)\s+(?P<time>(?:\d{1,6}:)?\d{1,2}:\d{2})")
_MAX_SPEAKER_LINE = 100  # a name and a time; also keeps the lazy pattern above off long lines
_OTTER_FOOTER = re.compile(r"transcribed by\s+(?:https?://)?(?:www\.)?otter\.ai\b.*", re.IGNORECASE)
_TIME_LINE = re.compile(rf"\[(?P<a>{_CLOCK})\]|\((?P<b>{_CLOCK})\)|(?P<c>{_CLOCK})")
_TIME_PREFIX = re.compile(rf"(?:\[(?P<a>{_CLOCK})\]|\((?P<b>{_CLOCK})\)|(?P<c>{_CLOCK}))\s+(?P<rest>\S.*)")
_BOLD_NAME = re.compile(r"\*\*(?P<name>[^*\n]{1,60}?)\s*(?::\s*\*\*|\*\*\s*:)\s*(?P<text>.*)")
_MEET_NOTICE = re.compile(r"meeting ended after\b|this editable transcript was computer generated\b", re.IGNORECASE)


@dataclass
class _Draft:
    speaker: str | None
    start: float | None
    line: int
    texts: list[str] = field(default_factory=list)


def _first_text_line(lines: Sequence[str]) -> tuple[int, str] | None:
    return next(((number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()), None)


def _otter_speaker_line(line: str) -> tuple[str, float] | None:
    if len(line) > _MAX_SPEAKER_LINE:
        return None
    match = _OTTER_SPEAKER_LINE.fullmatch(line)
    if match is None or not is_speaker_name(match["name"]):
        return None
    try:
        return match["name"], parse_timestamp(match["time"])
    except ValueError:
        return None


class OtterParser:
    """Otter.ai text exports: ``Name  0:34`` (or ``Name 1:02:03``), then the words on the next lines."""

    name = "otter"

    def sniff(self, lines: Sequence[str]) -> bool:
        first = _first_text_line(lines)
        if first is None:
            return False
        return _otter_speaker_line(first[1]) is not None or any(_OTTER_FOOTER.fullmatch(line.strip()) for line in lines)

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]:
        drafts: list[_Draft] = []
        preamble: _Draft | None = None
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or _OTTER_FOOTER.fullmatch(line):
                continue
            heading = _otter_speaker_line(line)
            if heading is not None:
                drafts.append(_Draft(heading[0], heading[1], number))
            elif drafts:
                drafts[-1].texts.append(line)
            else:
                preamble = preamble or _Draft(None, None, number)
                preamble.texts.append(line)
        if not drafts:
            first = _first_text_line(lines)
            raise TranscriptParseError(
                "expected a speaker line like 'Alice Smith  0:34' (a name, then M:SS or H:MM:SS)"
                + (f", got {first[1][:60]!r}" if first else ""),
                source=source,
                line=first[0] if first else 1,
            )
        cues = CueBuilder()
        for draft in [preamble, *drafts] if preamble else drafts:
            cues.add(draft.speaker, " ".join(draft.texts), draft.start, None, draft.line)
        return cues.cues


def _clock(match: re.Match[str]) -> float | None:
    try:
        return parse_timestamp(match["a"] or match["b"] or match["c"])
    except ValueError:
        return None


def _speaker_line(line: str) -> tuple[str, str] | None:
    bold = _BOLD_NAME.fullmatch(line)
    if bold is not None and clean_text(bold["name"]):
        return clean_text(bold["name"]), bold["text"]
    return split_speaker_prefix(line)


@dataclass(frozen=True)
class _CueLine:
    speaker: str | None
    text: str
    start: float | None


def _cue_line(line: str) -> _CueLine | None:
    """The cue a line starts (it has a name, a timestamp prefix or both); None for a line of plain words."""
    prefix = _TIME_PREFIX.fullmatch(line)
    if prefix is not None:
        said = _speaker_line(prefix["rest"])
        # A bare "10:30 works for me" is words; a bracketed or name-bearing time is a timestamp.
        if said is not None or not prefix["c"]:
            start = _clock(prefix)
            if start is not None:
                speaker, text = said if said is not None else (None, prefix["rest"])
                return _CueLine(speaker, text, start)
    said = _speaker_line(line)
    return _CueLine(said[0], said[1], None) if said is not None else None


class PlainParser:
    """``Name: text`` lines, Markdown ``**Name:**`` names and Google Meet exports with timestamp lines."""

    name = "plain"

    def sniff(self, lines: Sequence[str]) -> bool:
        for line in lines:
            cue_line = _cue_line(line.strip()) if line.strip() else None
            if cue_line is not None and cue_line.speaker is not None:
                return True
        return False

    def parse(self, lines: Sequence[str], source: str) -> list[Cue]:
        drafts: list[_Draft] = []
        preamble: list[_Draft] = []
        labelled = False
        pending: float | None = None
        after_blank = True
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                after_blank = True
                continue
            if _MEET_NOTICE.match(line):
                continue
            time_line = _TIME_LINE.fullmatch(line)
            if time_line is not None and (when := _clock(time_line)) is not None:
                pending, labelled = when, True
                continue
            cue_line = _cue_line(line)
            if cue_line is not None:
                labelled = True
                start = cue_line.start if cue_line.start is not None else pending
                drafts.append(_Draft(cue_line.speaker, start, number, [cue_line.text]))
                pending = None
            elif labelled and (after_blank or pending is not None or not drafts):
                drafts.append(_Draft(drafts[-1].speaker if drafts else None, pending, number, [line]))
                pending = None
            elif labelled:
                drafts[-1].texts.append(line)
            elif after_blank or not preamble:
                preamble.append(_Draft(None, None, number, [line]))
            else:
                preamble[-1].texts.append(line)
            after_blank = False
        cues = CueBuilder()
        for draft in drafts if labelled else preamble:
            cues.add(draft.speaker, " ".join(draft.texts), draft.start, None, draft.line)
        return cues.cues
