"""Training on several labelled sources at once: a data-mix file, label mappings and sampling weights.

A data mix is a TOML file. It names the model's labels, then one ``[[source]]`` table per training
set and one ``[[dev]]`` table per set that chooses checkpoints::

    labels = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    root = "data"                         # optional: where relative paths start, relative to this file

    [[source]]
    name = "meld"
    path = "meld/train_sent_emo.csv"
    text_column = "Utterance"
    label_column = "Sentiment"
    weight = 2.0                          # drawn twice per epoch
    labels = { negative = "NEGATIVE", neutral = "NEUTRAL", positive = "POSITIVE" }

    [[source]]
    name = "sst2"
    path = "sst2/train.tsv"
    weight = 0.3                          # a fresh 30 % sample each epoch
    labels = { 0 = "NEGATIVE", 1 = "POSITIVE" }

    [[source]]
    name = "clothing"
    path = "womens_ecommerce_clothing_reviews/womens_clothing_ecommerce_reviews.csv"
    text_column = "Review Text"
    label_column = "Rating"
    holdout = 0.1                         # a seeded tenth kept out of training, for evaluation
    labels = { 1 = "NEGATIVE", 2 = "NEGATIVE", 3 = "NEUTRAL", 4 = "POSITIVE", 5 = "POSITIVE" }

Each source's ``labels`` table maps its raw values to model labels; a value mapped to ``""`` is
dropped (e.g. DailyDialog's ``surprise``), and a value the table does not mention is an error, so a
typo cannot silently discard data. A source that maps onto only some of the model's labels (SST-2 has
no neutral) is a *partial-label* source: the trainer's loss is taken over the labels it has, so it
teaches negative versus positive without teaching "never neutral". A source that maps onto a single
label is taught over all of them (its rows are that label and no other).

``holdout`` removes a share of the rows by a hash of the text, so the same rows are held out on every
machine and in every later run, and the accuracy suite scores exactly those (``split = "holdout"``).
``holdout_column`` hashes another column instead: a source that trains on a review's title holds out
the titles of exactly the reviews whose text the suite scores.
``format = "lines"`` reads a text file with one text per line and ``labels_path``, a file with one
label per line (TweetEval's layout). Rows with an empty text are skipped and counted.

A conversation names ``dialogue_column`` (and optionally ``speaker_column``): each of its rows then
also carries the line before it in the same dialogue (file order), prefixed ``(same speaker)`` when
one speaker said both, for training with the previous utterance as a second segment (``moodline train
--context``).

Without ``root`` (and without an explicit ``data_root``), relative paths start at ``$MOODLINE_SHARED_DATA``
or else ``../shared/data``. A bare name such as ``sentiment-3way`` loads a mix shipped with moodline
(``src/moodline/mixes/``): the one behind the bundled model, whose dev sets are the accuracy suite.

Example::

    mix = DataMixture.load("sentiment-3way")
    data = mix.read_training()
    data.sources[0].name, len(data.texts), data.allowed[0]
"""

from __future__ import annotations

import hashlib
import random
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

from moodline.core.datafiles import read_rows
from moodline.core.errors import DataFileError, InvalidInputError
from moodline.core.settings import get_settings

__all__ = [
    "MIXES_DIR",
    "DataMixture",
    "MixtureData",
    "MixtureSource",
    "SourceData",
    "default_data_root",
    "in_holdout",
    "normalise_tweet",
]

Split = Literal["train", "holdout", "all"]
MIXES_DIR = Path(__file__).parent.parent / "mixes"


def default_data_root() -> Path:
    """Where shared labelled data lives: ``$MOODLINE_SHARED_DATA``, else ``../shared/data``."""
    return Path(get_settings().shared_data or "../shared/data")


_MENTION = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")


def normalise_tweet(text: str) -> str:
    """Mentions become ``@user`` and links are removed, as in TweetEval: names and URLs carry no sentiment."""
    return " ".join(_URL.sub("", _MENTION.sub("@user", text)).split())


def in_holdout(text: str, fraction: float) -> bool:
    """Whether ``text`` falls in the held-out ``fraction``: a hash of the text, the same on every machine."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class MixtureSource:
    """One labelled file of a mixture and how its labels and rows are used."""

    name: str
    path: Path
    label_map: dict[str, str] | None = None
    text_column: str = "sentence"
    label_column: str = "label"
    weight: float = 1.0
    holdout: float = 0.0
    format: str | None = None
    labels_path: Path | None = None
    limit: int | None = None
    split: Split = "all"
    preprocess: str | None = None
    holdout_column: str | None = None
    # Conversations: the column naming a row's dialogue (rows of a dialogue in file order) and the
    # speaker's; with them each row also carries the utterance before it (see previous_utterance).
    dialogue_column: str | None = None
    speaker_column: str | None = None

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise InvalidInputError(f"source {self.name!r}: weight must be positive, got {self.weight}")
        if not 0 <= self.holdout < 1:
            raise InvalidInputError(f"source {self.name!r}: holdout must be in [0, 1), got {self.holdout}")
        if self.format == "lines" and self.labels_path is None:
            raise InvalidInputError(f"source {self.name!r}: format 'lines' needs labels_path")
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError(f"source {self.name!r}: limit must be at least 1, got {self.limit}")
        if self.split not in ("train", "holdout", "all"):
            raise InvalidInputError(f"source {self.name!r}: split must be train, holdout or all, got {self.split!r}")
        if self.preprocess not in (None, "tweets"):
            raise InvalidInputError(
                f"source {self.name!r}: preprocess must be 'tweets' or absent, got {self.preprocess!r}"
            )
        if self.speaker_column is not None and self.dialogue_column is None:
            raise InvalidInputError(f"source {self.name!r}: speaker_column needs dialogue_column")
        if self.dialogue_column is not None and self.format == "lines":
            raise InvalidInputError(f"source {self.name!r}: format 'lines' has no dialogue_column")

    def read(self, label_names: Sequence[str], split: Split = "train") -> SourceData:
        """The source's texts and model label ids; ``split`` picks the rows outside or inside the holdout."""
        lookup = {name.lower(): i for i, name in enumerate(label_names)}
        mapping = self._mapping(label_names)
        texts: list[str] = []
        labels: list[int] = []
        contexts: list[str] | None = [] if self.dialogue_column is not None else None
        skipped_empty = dropped = 0
        before: Turn | None = None
        for number, text, raw, key_text, turn in self._records():
            # The line before is the one before in the file, kept for training or not.
            context, before = previous_utterance(before, turn), turn
            if not text.strip():
                skipped_empty += 1
                continue
            key = raw.strip().lower()
            if key not in mapping:
                known = ", ".join(sorted(mapping)) or "none"
                raise DataFileError(
                    f"{self.path}, line {number}: label {raw!r} is not in the mapping of {self.name!r} ({known})"
                )
            target = mapping[key]
            if target is None:
                dropped += 1
                continue
            if split != "all" and in_holdout(key_text, self.holdout) != (split == "holdout"):
                continue
            texts.append(normalise_tweet(text) if self.preprocess == "tweets" else text.strip())
            labels.append(lookup[target])
            if contexts is not None:
                contexts.append(context)
            if self.limit is not None and len(texts) >= self.limit:
                break
        if not texts:
            raise DataFileError(f"{self.path}: no usable rows for source {self.name!r} ({split} split)")
        allowed = tuple(sorted({lookup[t] for t in mapping.values() if t is not None}))
        if len(allowed) == 1:
            # A loss over a single label is always zero: a source whose rows all map to one label
            # (DailyDialog's calm lines as neutral) teaches that label against all the others.
            allowed = tuple(range(len(label_names)))
        return SourceData(
            self.name, texts, labels, allowed, skipped_empty=skipped_empty, dropped=dropped, contexts=contexts
        )

    def _mapping(self, label_names: Sequence[str]) -> dict[str, str | None]:
        """Raw value (lower-case) -> model label name (lower-case), or None for a dropped value."""
        names = {name.lower() for name in label_names}
        if self.label_map is None:
            mapping: dict[str, str | None] = {name: name for name in names}
            mapping.update({str(i): name.lower() for i, name in enumerate(label_names)})
            return mapping
        mapping = {}
        for raw, target in self.label_map.items():
            if target and target.lower() not in names:
                raise InvalidInputError(
                    f"source {self.name!r}: label {raw!r} maps to {target!r}, not one of {list(label_names)}"
                )
            mapping[str(raw).strip().lower()] = target.lower() if target else None
        return mapping

    def _records(self) -> Any:
        """``(line number, text, raw label, text the holdout hash is taken of, Turn or None)`` for every row."""
        if self.format == "lines":
            for number, text, raw in self._line_records():
                yield number, text, raw, text, None
            return
        columns = [(self.text_column, "text"), (self.label_column, "label")]
        for column, role in (
            (self.holdout_column, "holdout"),
            (self.dialogue_column, "dialogue"),
            (self.speaker_column, "speaker"),
        ):
            if column is not None:
                columns.append((column, role))
        for number, row in read_rows(self.path, self.format):
            for column, role in columns:
                if column not in row:
                    available = ", ".join(repr(c) for c in row)
                    raise DataFileError(f"{self.path}: no {role} column {column!r}; the file has {available}")
            text = str(row[self.text_column] or "")
            key_text = str(row[self.holdout_column] or "") if self.holdout_column is not None else text
            turn = None
            if self.dialogue_column is not None:
                speaker = str(row[self.speaker_column] or "") if self.speaker_column is not None else None
                turn = Turn(str(row[self.dialogue_column] or ""), speaker, text.strip())
            yield number, text, str(row[self.label_column] or ""), key_text, turn

    def _line_records(self) -> Any:
        assert self.labels_path is not None
        for path in (self.path, self.labels_path):
            if not path.is_file():
                raise DataFileError(f"{path}: no such file")
        try:
            texts = self.path.read_text(encoding="utf-8").splitlines()
            labels = self.labels_path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{self.path}: not valid UTF-8 (byte offset {exc.start})") from exc
        if len(texts) != len(labels):
            raise DataFileError(f"{self.path} has {len(texts)} lines but {self.labels_path} has {len(labels)}")
        for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
            yield number, text, label


class Turn(NamedTuple):
    """One row of a conversation: its dialogue, speaker (None when the source names none) and text."""

    dialogue: str
    speaker: str | None
    text: str


# Put before the line before when one speaker says both, so a model can tell a continuation from a reply.
SAME_SPEAKER = "(same speaker)"


def previous_utterance(before: Turn | None, turn: Turn | None) -> str:
    """The context of ``turn``: the line before it in the same dialogue ("" for a dialogue's first line),
    marked with :data:`SAME_SPEAKER` when its speaker said it too."""
    if before is None or turn is None or before.dialogue != turn.dialogue or not before.text:
        return ""
    if turn.speaker is not None and before.speaker == turn.speaker:
        return f"{SAME_SPEAKER} {before.text}"
    return before.text


@dataclass
class SourceData:
    """The rows one source contributes, with the model labels it can teach (``allowed``)."""

    name: str
    texts: list[str]
    labels: list[int]
    allowed: tuple[int, ...]
    skipped_empty: int = 0
    dropped: int = 0
    # Per row, the utterance before it (previous_utterance); None for a source that is not a conversation.
    contexts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class MixtureData:
    """All training rows of a mixture, concatenated, with each row's source and allowed labels."""

    label_names: list[str]
    sources: list[SourceData]
    weights: list[float]
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    source_of: list[int] = field(default_factory=list)
    # Per row, the utterance before it; "" for a dialogue's first line and for sources that are not conversations.
    contexts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.texts:
            for index, source in enumerate(self.sources):
                self.texts.extend(source.texts)
                self.labels.extend(source.labels)
                self.source_of.extend([index] * len(source))
                self.contexts.extend(source.contexts if source.contexts is not None else [""] * len(source))

    @property
    def has_contexts(self) -> bool:
        """Whether any source is a conversation (names a dialogue_column)."""
        return any(source.contexts is not None for source in self.sources)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def allowed(self) -> list[tuple[int, ...]]:
        """Per source, the label ids it has."""
        return [source.allowed for source in self.sources]

    def epoch_indices(self, rng: random.Random) -> list[int]:
        """The rows of one epoch: ``weight`` x each source's size, a fresh sample (or repeats) per epoch."""
        chosen: list[int] = []
        start = 0
        for source, weight in zip(self.sources, self.weights, strict=True):
            size = len(source)
            wanted = max(1, round(weight * size))
            rows = list(range(start, start + size))
            whole, rest = divmod(wanted, size)
            chosen.extend(rows * whole)
            chosen.extend(rng.sample(rows, rest))
            start += size
        return chosen

    def summary(self) -> list[dict[str, Any]]:
        """One row per source: rows read, rows per epoch, labels taught, rows skipped or dropped."""
        return [
            {
                "source": source.name,
                "rows": len(source),
                "rows_per_epoch": max(1, round(weight * len(source))),
                "labels": [self.label_names[i] for i in source.allowed],
                "skipped_empty": source.skipped_empty,
                "dropped_by_mapping": source.dropped,
            }
            for source, weight in zip(self.sources, self.weights, strict=True)
        ]


@dataclass(frozen=True)
class DataMixture:
    """A parsed data-mix file: the model's labels, training sources and dev sets."""

    label_names: list[str]
    sources: list[MixtureSource]
    dev: list[MixtureSource]
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path, root: str | Path | None = None) -> DataMixture:
        """Parse a data-mix file (or a shipped mix by name); ``root`` overrides its data root."""
        path = Path(path)
        if not path.is_file() and (MIXES_DIR / f"{path}.toml").is_file():
            path = MIXES_DIR / f"{path}.toml"
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem for p in MIXES_DIR.glob("*.toml")))
            raise DataFileError(f"{path}: no such data-mix file (shipped mixes: {shipped})")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataFileError(f"{path}: not a valid TOML data-mix file ({exc})") from exc
        return cls.from_dict(raw, base=path.parent, root=root, path=path)

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], *, base: Path, root: str | Path | None = None, path: Path | None = None
    ) -> DataMixture:
        where = str(path or "data mix")
        labels = raw.get("labels")
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
            raise InvalidInputError(f"{where}: 'labels' must list at least two label names")
        if root is not None:
            data_root = Path(root)
        elif "root" in raw:
            data_root = base / str(raw["root"])
        else:
            data_root = default_data_root()
        sources = [_source(entry, data_root, where) for entry in raw.get("source", [])]
        dev = [_source(entry, data_root, where) for entry in raw.get("dev", [])]
        if not sources:
            raise InvalidInputError(f"{where}: no [[source]] tables")
        for group in (sources, dev):
            names = [s.name for s in group]
            if len(set(names)) != len(names):
                raise InvalidInputError(f"{where}: source names must be unique, got {names}")
        unknown = set(raw) - {"labels", "root", "source", "dev"}
        if unknown:
            raise InvalidInputError(f"{where}: unknown keys {sorted(unknown)}")
        return cls(list(labels), sources, dev, path)

    def without(self, names: Sequence[str]) -> DataMixture:
        """The same mix less the named training sources (dev sets stay): a leave-one-domain-out run."""
        unknown = set(names) - {s.name for s in self.sources}
        if unknown:
            known = ", ".join(s.name for s in self.sources)
            raise InvalidInputError(f"no training source named {', '.join(sorted(unknown))} (the mix has {known})")
        kept = [s for s in self.sources if s.name not in set(names)]
        if not kept:
            raise InvalidInputError("excluding every training source leaves nothing to train on")
        return DataMixture(self.label_names, kept, self.dev, self.path)

    def read_training(self, limit: int | None = None) -> MixtureData:
        """Every source's training rows (holdouts removed); ``limit`` caps rows per source (for tests)."""
        parts = []
        for source in self.sources:
            if limit is not None:
                source = replace(source, limit=min(limit, source.limit or limit))
            parts.append(source.read(self.label_names, "train"))
        return MixtureData(list(self.label_names), parts, [s.weight for s in self.sources])

    def read_dev(self) -> list[SourceData]:
        """The dev sets (every row of each), for choosing checkpoints."""
        return [source.read(self.label_names, source.split) for source in self.dev]


_SOURCE_KEYS = {
    "name",
    "path",
    "labels",
    "text_column",
    "label_column",
    "weight",
    "holdout",
    "format",
    "labels_path",
    "limit",
    "split",
    "preprocess",
    "holdout_column",
    "dialogue_column",
    "speaker_column",
}


def _source(entry: Any, root: Path, where: str) -> MixtureSource:
    if not isinstance(entry, dict) or "name" not in entry or "path" not in entry:
        raise InvalidInputError(f"{where}: every [[source]] and [[dev]] needs 'name' and 'path'")
    unknown = set(entry) - _SOURCE_KEYS
    if unknown:
        raise InvalidInputError(f"{where}: source {entry['name']!r} has unknown keys {sorted(unknown)}")
    mapping = entry.get("labels")
    if mapping is not None and not (isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values())):
        raise InvalidInputError(f"{where}: source {entry['name']!r}: 'labels' must map raw values to label names")
    return MixtureSource(
        name=str(entry["name"]),
        path=root / str(entry["path"]),
        label_map={str(k): v for k, v in mapping.items()} if mapping is not None else None,
        text_column=str(entry.get("text_column", "sentence")),
        label_column=str(entry.get("label_column", "label")),
        weight=float(entry.get("weight", 1.0)),
        holdout=float(entry.get("holdout", 0.0)),
        format=entry.get("format"),
        labels_path=root / str(entry["labels_path"]) if "labels_path" in entry else None,
        limit=entry.get("limit"),
        split=entry.get("split", "all"),
        preprocess=entry.get("preprocess"),
        holdout_column=entry.get("holdout_column"),
        dialogue_column=entry.get("dialogue_column"),
        speaker_column=entry.get("speaker_column"),
    )
