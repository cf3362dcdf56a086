"""Writing transcripts as WebVTT, SRT or JSON that the parsers read back to the same turns.

WebVTT names speakers with voice tags (``<v Name>``) and SRT with a ``Name:`` prefix, except when no
cue has a known speaker and too few texts start like ``Name:`` for the parsers to read them as
speakers: then cues are written bare, as plain captions. Both need times: a cue without a start is an
error, and a cue without an end ends where the next cue starts (or two seconds after its own start).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from moodline.core.errors import InvalidInputError
from moodline.transcripts.model import Cue, Transcript
from moodline.transcripts.speakers import UNKNOWN_SPEAKER, prefixes_name_speakers
from moodline.transcripts.timestamps import format_timestamp

__all__ = ["to_json", "to_srt", "to_vtt"]

_DEFAULT_CUE_SECONDS = 2.0


def _escape(text: str) -> str:
    # Escaping ">" too keeps "-->" out of cue text, where it would read as a timing line.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("{\\", "&#123;\\")  # "{\an8}" would read as an SRT positioning tag


def _timed(transcript: Transcript, target: str) -> list[tuple[Cue, float, float]]:
    starts: list[float] = []
    for cue in transcript.cues:
        if cue.start is None:
            where = f"{transcript.source}: cue {cue.index} (line {cue.line})"
            raise InvalidInputError(f"{where} has no start time; {target} needs one on every cue")
        starts.append(cue.start)
    starts.append(math.inf)
    timed = []
    for position, cue in enumerate(transcript.cues):
        start, end, following = starts[position], cue.end, starts[position + 1]
        if end is None:
            end = following if start < following < math.inf else start + _DEFAULT_CUE_SECONDS
        timed.append((cue, start, end))
    return timed


def _labelled(cues: Sequence[Cue]) -> bool:
    """Whether speakers must be written: some are known, or the bare texts would read as "Name: text"."""
    known = any(cue.speaker != UNKNOWN_SPEAKER for cue in cues)
    return known or prefixes_name_speakers([cue.text for cue in cues])


def to_vtt(transcript: Transcript) -> str:
    """Write ``transcript`` as WebVTT with numbered cues and ``<v Name>`` voice tags.

    Example::

        Path("call.vtt").write_text(to_vtt(parse_transcript(Path("call.srt").read_bytes())))
    """
    labelled = _labelled(transcript.cues)
    blocks = ["WEBVTT"]
    for number, (cue, start, end) in enumerate(_timed(transcript, "WebVTT"), start=1):
        text = f"<v {_escape(cue.speaker)}>{_escape(cue.text)}</v>" if labelled else _escape(cue.text)
        blocks.append(f"{number}\n{format_timestamp(start)} --> {format_timestamp(end)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def to_srt(transcript: Transcript) -> str:
    """Write ``transcript`` as SRT with ``Name: text`` cue text (a name must not contain a colon)."""
    labelled = _labelled(transcript.cues)
    blocks = []
    for number, (cue, start, end) in enumerate(_timed(transcript, "SRT"), start=1):
        text = f"{_escape(cue.speaker)}: {_escape(cue.text)}" if labelled else _escape(cue.text)
        blocks.append(f"{number}\n{format_timestamp(start, ',')} --> {format_timestamp(end, ',')}\n{text}")
    return "\n\n".join(blocks) + "\n"


def to_json(transcript: Transcript, *, indent: int | None = 2) -> str:
    """Write ``transcript`` as ``{"source", "format", "cues": [{speaker, text, start, end}, ...]}``."""
    document = {
        "source": transcript.source,
        "format": transcript.format,
        "cues": [{"speaker": c.speaker, "text": c.text, "start": c.start, "end": c.end} for c in transcript.cues],
    }
    return json.dumps(document, ensure_ascii=False, indent=indent) + "\n"
