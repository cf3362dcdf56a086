"""Which files a run over many transcripts reads: named files as they are, folders searched recursively.

Example::

    for found in find_transcript_files([Path("calls"), Path("extra/board.vtt")]):
        print(found.name)      # calls/2024/05-02.vtt, calls/notes.txt, ..., extra/board.vtt
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TRANSCRIPT_SUFFIXES", "TranscriptFile", "find_transcript_files"]

TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".sbv", ".txt", ".json", ".csv")
"""What a folder search picks up (case-insensitive). Files named on the command line are read whatever their name."""


@dataclass(frozen=True)
class TranscriptFile:
    """A transcript to read: its path, the name reports use (the path as the user wrote it, with ``/``),
    and its path under the folder it was found in (its file name when it was named itself)."""

    path: Path
    name: str
    relative: str


def find_transcript_files(paths: Iterable[Path]) -> list[TranscriptFile]:
    """Named files as given, and every transcript under named folders, sorted within each folder.

    Hidden files and folders (names starting with ``.``) are skipped inside folders. A file reached twice
    is read once. A path that does not exist is kept, so that reading it reports it.
    """
    found: list[TranscriptFile] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = sorted(
                (
                    candidate
                    for candidate in path.rglob("*")
                    if candidate.suffix.lower() in TRANSCRIPT_SUFFIXES
                    and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
                    and candidate.is_file()
                ),
                key=lambda candidate: candidate.relative_to(path).parts,
            )
            root = path
        else:
            candidates, root = [path], path.parent
        for candidate in candidates:
            identity = candidate.resolve()
            if identity in seen:
                continue
            seen.add(identity)
            found.append(TranscriptFile(candidate, candidate.as_posix(), candidate.relative_to(root).as_posix()))
    return found
