"""Hypothesis strategies for transcripts: a few speakers, one-line texts, increasing times."""

from __future__ import annotations

from hypothesis import strategies as st

from moodline.transcripts import Cue, Transcript

SPEAKERS = ("Alice", "Bob", "Dr. Chen", "María José", "Tom O'Connor", "Unknown")

# Printable text of any script, no control characters or line breaks; whitespace is collapsed the way
# the parsers collapse it, so what was generated is what should come back.
_CHARACTERS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
texts = (
    st.text(_CHARACTERS, min_size=1, max_size=40)
    .map(lambda text: " ".join(text.split()))
    .filter(lambda text: bool(text) and "-->" not in text)
)


@st.composite
def transcripts(draw: st.DrawFn, speakers: tuple[str, ...] = SPEAKERS) -> Transcript:
    count = draw(st.integers(min_value=1, max_value=12))
    cues = []
    clock = draw(st.integers(min_value=0, max_value=10_000_000))  # milliseconds
    for index in range(count):
        start = clock + draw(st.integers(min_value=0, max_value=5_000))
        end = start + draw(st.integers(min_value=1, max_value=20_000))
        speaker = draw(st.sampled_from(speakers))
        cues.append(Cue(speaker, draw(texts), start / 1000, end / 1000, index, index + 1))
        clock = end
    return Transcript(tuple(cues), "generated")
