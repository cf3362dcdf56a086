"""Speaker names across calls: matching that ignores case and spacing, and alias files that merge names.

The same person is "Dana Whitfield" on one call, "dana  whitfield" on another and "Dana W." on a third.
Names match when they are equal after collapsing runs of whitespace and case folding
(:func:`speaker_key`); an alias file merges names that differ otherwise. It maps alias -> canonical
name, in one of three formats chosen by the file's suffix::

    # aliases.toml (top level, or under an [aliases] table)
    "Dana W." = "Dana Whitfield"
    "Agent 7" = "Marcus Lee"

    // aliases.json (an object, or one under "aliases")
    {"Dana W.": "Dana Whitfield", "Agent 7": "Marcus Lee"}

    # aliases.csv: a header naming the columns alias and canonical
    alias,canonical
    Dana W.,Dana Whitfield

Alias keys match like names do (case and spacing ignored); the canonical spelling is what reports show.

Example::

    aliases = read_aliases(Path("aliases.toml"))
    aliases.resolve("dana w.")       # ('dana whitfield', 'Dana Whitfield')
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moodline.core.errors import DataFileError, InvalidInputError

__all__ = ["ALIAS_FILE_SUFFIXES", "SpeakerAliases", "read_aliases", "speaker_key"]

ALIAS_FILE_SUFFIXES = (".toml", ".json", ".csv")


def speaker_key(name: str) -> str:
    """The form two spellings of one name share: whitespace runs collapsed to one space, case folded.

    Example::

        speaker_key("  Dana\\tWHITFIELD ")   # 'dana whitfield'
    """
    return " ".join(name.split()).casefold()


class SpeakerAliases:
    """Alias -> canonical name, looked up by :func:`speaker_key`; an empty mapping merges nothing."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._canonical: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for alias, canonical in (mapping or {}).items():
            if not isinstance(alias, str) or not isinstance(canonical, str):
                raise InvalidInputError(f"alias {alias!r} -> {canonical!r}: both must be text")
            key, display = speaker_key(alias), " ".join(canonical.split())
            if not key or not display:
                raise InvalidInputError(f"alias {alias!r} -> {canonical!r}: both must be non-empty")
            if aliases.get(key, display) != display:
                raise InvalidInputError(f"alias {alias!r} maps to both {aliases[key]!r} and {display!r}")
            aliases[key] = display
        for key, display in aliases.items():
            # A chain (a -> b, b -> c) would make the answer depend on the order of lookups: refuse it.
            onward = aliases.get(speaker_key(display))
            if onward is not None and speaker_key(onward) != speaker_key(display):
                raise InvalidInputError(
                    f"alias {key!r} maps to {display!r}, which is itself an alias of {onward!r}; "
                    f"map {key!r} to {onward!r} directly"
                )
            self._canonical[key] = display
            self._canonical.setdefault(speaker_key(display), display)

    def __len__(self) -> int:
        return len(self._canonical)

    def resolve(self, name: str) -> tuple[str, str | None]:
        """``(key, canonical spelling or None)``: the key speakers are grouped by, and the spelling to show.

        None means "no alias applies": reports then show the most common spelling seen.
        """
        key = speaker_key(name)
        canonical = self._canonical.get(key)
        return (speaker_key(canonical), canonical) if canonical is not None else (key, None)


def read_aliases(path: Path) -> SpeakerAliases:
    """Read an alias file (TOML, JSON or CSV by its suffix); errors name the file."""
    suffix = path.suffix.lower()
    if suffix not in ALIAS_FILE_SUFFIXES:
        raise DataFileError(f"{path}: an alias file must end in {', '.join(ALIAS_FILE_SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot read it as UTF-8 text ({exc})") from exc
    try:
        mapping = _parse(text, suffix)
        return SpeakerAliases(mapping)
    except InvalidInputError as exc:
        raise DataFileError(f"{path}: {exc.message}") from exc


def _parse(text: str, suffix: str) -> dict[str, str]:
    document: Any
    if suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        header = [cell.strip().casefold() for cell in rows[0]] if rows else []
        if "alias" not in header or "canonical" not in header:
            raise InvalidInputError("the CSV needs a header with the columns alias and canonical")
        alias_at, canonical_at = header.index("alias"), header.index("canonical")
        mapping = {}
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(alias_at, canonical_at):
                raise InvalidInputError(f"line {number} has {len(row)} cells, expected alias and canonical")
            mapping[row[alias_at]] = row[canonical_at]
        return mapping
    try:
        document = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"not valid {suffix[1:].upper()}: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("aliases"), dict):
        document = document["aliases"]
    if not isinstance(document, dict):
        raise InvalidInputError("expected a mapping of alias -> canonical name")
    return document
