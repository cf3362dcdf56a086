"""What a parsed transcript is: cues as the source wrote them, speaker turns, and utterances to score."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moodline.core.errors import InvalidInputError
from moodline.transcripts.sentences import sentence_spans, wrap_span
from moodline.transcripts.speakers import UNKNOWN_SPEAKER, clean_text

__all__ = ["Cue", "CueBuilder", "Transcript", "Turn", "Utterance"]


@dataclass(frozen=True)
class Cue:
    """One caption or line of the source: who said what, and when (seconds, None where the source has no time).

    ``index`` is the cue's 0-based position in the transcript, ``line`` the 1-based source line it starts on.
    """

    speaker: str
    text: str
    start: float | None
    end: float | None
    index: int
    line: int


@dataclass(frozen=True)
class Turn:
    """Consecutive cues of one speaker, joined; ``cues`` holds their indices."""

    speaker: str
    text: str
    start: float | None
    end: float | None
    cues: tuple[int, ...]


@dataclass(frozen=True)
class Utterance:
    """A piece of a turn short enough to score; ``position`` is its 0-based place in the conversation."""

    turn_index: int
    speaker: str
    text: str
    start: float | None
    end: float | None
    position: int


@dataclass(frozen=True)
class Transcript:
    """The cues of one conversation, the format they were read from and the source's name.

    Example::

        transcript = parse_transcript(Path("call.vtt").read_bytes(), source="call.vtt")
        transcript.speakers()                    # ['Dana Whitfield', 'Marcus Lee']
        [t.text for t in transcript.turns()]     # one string per change of speaker
    """

    cues: tuple[Cue, ...]
    format: str
    source: str = "<input>"

    def __post_init__(self) -> None:
        if not isinstance(self.cues, tuple):
            object.__setattr__(self, "cues", tuple(self.cues))

    def __len__(self) -> int:
        return len(self.cues)

    def speakers(self) -> list[str]:
        """The distinct speakers, in order of first appearance."""
        return list(dict.fromkeys(cue.speaker for cue in self.cues))

    def turns(self) -> list[Turn]:
        """Merge consecutive cues of the same speaker; a turn keeps the first known start and last known end."""
        return [_merge(group) for group in self._turn_cues()]

    def _turn_cues(self) -> list[list[Cue]]:
        groups: list[list[Cue]] = []
        for cue in self.cues:
            if groups and groups[-1][0].speaker == cue.speaker:
                groups[-1].append(cue)
            else:
                groups.append([cue])
        return groups

    def utterances(self, max_chars: int | None = 300) -> list[Utterance]:
        """Split turns longer than ``max_chars`` into sentences (and over-long sentences at spaces).

        Each utterance gets a start time interpolated by character offset between the known start and
        end times of the cues that make up its turn, and ends where the next utterance of the turn
        starts (the last one where the turn ends). Without two such times to interpolate between, every
        utterance keeps its turn's start and end. ``max_chars=None`` keeps every turn whole.
        """
        if max_chars is not None and (isinstance(max_chars, bool) or max_chars < 1):
            raise InvalidInputError(f"max_chars must be a positive number of characters or None, got {max_chars!r}")
        utterances: list[Utterance] = []
        for turn_index, cues in enumerate(self._turn_cues()):
            turn = _merge(cues)
            spans = [(0, len(turn.text))]
            if max_chars is not None and len(turn.text) > max_chars:
                spans = [piece for a, b in sentence_spans(turn.text) for piece in wrap_span(turn.text, a, b, max_chars)]
            clock = _TurnClock(cues)
            starts = clock.starts([start for start, _ in spans]) if clock.usable else [turn.start] * len(spans)
            for number, (start, end) in enumerate(spans):
                if clock.usable:
                    ends_at = starts[number + 1] if number + 1 < len(spans) else turn.end
                else:
                    ends_at = turn.end
                utterances.append(
                    Utterance(turn_index, turn.speaker, turn.text[start:end], starts[number], ends_at, len(utterances))
                )
        return utterances


def _merge(group: Sequence[Cue]) -> Turn:
    starts = [cue.start for cue in group if cue.start is not None]
    ends = [cue.end for cue in group if cue.end is not None]
    return Turn(
        speaker=group[0].speaker,
        text=" ".join(cue.text for cue in group),
        start=starts[0] if starts else None,
        end=ends[-1] if ends else None,
        cues=tuple(cue.index for cue in group),
    )


class _TurnClock:
    """Maps a character offset in a turn's text to a time, linearly between the cues' known times."""

    def __init__(self, cues: Iterable[Cue]) -> None:
        self.offsets: list[int] = []
        self.times: list[float] = []
        offset = 0
        for cue in cues:
            self._anchor(offset, cue.start)
            self._anchor(offset + len(cue.text), cue.end)
            offset += len(cue.text) + 1
        self.usable = len(set(self.offsets)) >= 2

    def _anchor(self, offset: int, time: float | None) -> None:
        if time is None:
            return
        # Overlapping cues would make time run backwards; hold it instead.
        self.offsets.append(offset)
        self.times.append(max(time, self.times[-1]) if self.times else time)

    def at(self, offset: int) -> float:
        right = bisect_right(self.offsets, offset)
        if right == 0:
            return self.times[0]
        if right == len(self.offsets):
            return self.times[-1]
        left_offset, right_offset = self.offsets[right - 1], self.offsets[right]
        left_time, right_time = self.times[right - 1], self.times[right]
        share = (offset - left_offset) / (right_offset - left_offset)
        return left_time + share * (right_time - left_time)

    def starts(self, offsets: Sequence[int]) -> list[float | None]:
        return [self.at(offset) for offset in offsets]


class CueBuilder:
    """Collects cues for a parser: tidies whitespace, drops empty text, names missing speakers, numbers cues."""

    def __init__(self) -> None:
        self.cues: list[Cue] = []

    def add(self, speaker: str | None, text: str, start: float | None, end: float | None, line: int) -> None:
        text = clean_text(text)
        if text:
            name = clean_text(speaker or "") or UNKNOWN_SPEAKER
            self.cues.append(Cue(name, text, start, end, len(self.cues), line))
