"""Reading labelled and unlabelled text from CSV, TSV and JSONL files.

One reader serves training, evaluation and prediction, so every command reports a missing file, an
undecodable byte or a wrong column name the same way: a :class:`~moodline.core.errors.DataFileError` that
names the file and, where it applies, the line.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodline.core.errors import DataFileError, InvalidInputError

__all__ = [
    "LABELLED_FORMATS",
    "TABLE_FORMATS",
    "LabelledData",
    "parse_jsonl_line",
    "read_labelled",
    "read_rows",
    "split_holdout",
    "table_format",
]

# Every tabular file format moodline reads or writes, by the name --format takes.
TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")
# Those that labelled data (training, evaluation, registry checks) may come in.
LABELLED_FORMATS = ("csv", "tsv", "jsonl")
_EXTENSION_ALIASES = {"json": "jsonl", "ndjson": "jsonl", "txt": "tsv", "pq": "parquet"}


def parse_jsonl_line(path: Path, number: int, line: str) -> dict[str, Any]:
    """One JSON Lines record, or a :class:`DataFileError` naming the file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}, line {number}: invalid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise DataFileError(f"{path}, line {number}: expected a JSON object per line")
    return record


def table_format(path: Path, explicit: str | None = None, formats: Sequence[str] = TABLE_FORMATS) -> str:
    """One of ``formats``, from ``explicit`` or the file extension (``.json`` and ``.ndjson`` mean JSON Lines).

    Example::

        table_format(Path("reviews.ndjson"))   # 'jsonl'
    """
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    fmt = _EXTENSION_ALIASES.get(fmt, fmt)
    if fmt not in formats:
        raise DataFileError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; pass --format ({', '.join(formats)})"
        )
    return fmt


def read_rows(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line_number, row)`` for every record of ``path``.

    TSV is read without quote handling because SST-2 and many exported corpora use bare quote
    characters inside the text; CSV uses standard RFC 4180 quoting.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    fmt = table_format(path, fmt, LABELLED_FORMATS)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "jsonl":
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield number, parse_jsonl_line(path, number, line)
                return
            if fmt == "tsv":
                reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            else:
                reader = csv.reader(handle, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                return
            width = len(header)
            for record in reader:
                number = reader.line_num
                if not record or record == [""]:
                    continue
                if len(record) != width:
                    raise DataFileError(
                        f"{path}, line {number}: expected {width} fields as in the header, got {len(record)}"
                    )
                yield number, dict(zip(header, record, strict=True))
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from exc
    except csv.Error as exc:
        raise DataFileError(f"{path}: malformed {fmt.upper()} ({exc})") from exc


@dataclass
class LabelledData:
    """Texts with integer label ids and the label names those ids stand for."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledData:
        return LabelledData([self.texts[i] for i in indices], [self.labels[i] for i in indices], self.label_names)


def _check_column(path: Path, row: dict[str, object], column: str, role: str) -> None:
    if column not in row:
        available = ", ".join(repr(c) for c in row)
        raise DataFileError(f"{path}: no {role} column {column!r}; the file has {available}")


def read_labelled(
    path: str | Path,
    *,
    text_column: str = "sentence",
    label_column: str = "label",
    label_names: Sequence[str] | None = None,
    fmt: str | None = None,
    limit: int | None = None,
) -> LabelledData:
    """Read a labelled file; labels may be names or integer ids into ``label_names``.

    Example::

        data = read_labelled("sst2/dev.tsv", label_names=["NEGATIVE", "POSITIVE"])
    """
    path = Path(path)
    texts: list[str] = []
    raw_labels: list[str] = []
    for number, row in read_rows(path, fmt):
        if not texts:
            _check_column(path, row, text_column, "text")
            _check_column(path, row, label_column, "label")
        text, label = row.get(text_column), row.get(label_column)
        if not isinstance(text, str) or not text.strip():
            raise DataFileError(f"{path}, line {number}: empty or non-text value in column {text_column!r}")
        if label is None or (isinstance(label, float) and math.isnan(label)) or str(label).strip() == "":
            raise DataFileError(f"{path}, line {number}: missing label in column {label_column!r}")
        texts.append(text.strip())
        raw_labels.append(str(label).strip())
        if limit is not None and len(texts) >= limit:
            break
    if not texts:
        raise DataFileError(f"{path}: no rows")
    names, ids = _map_labels(path, raw_labels, label_names)
    return LabelledData(texts, ids, names)


def _map_labels(path: Path, raw: list[str], label_names: Sequence[str] | None) -> tuple[list[str], list[int]]:
    """Map raw label values to ids: by name, or as integer indices into ``label_names``."""
    distinct = sorted(set(raw))
    if label_names:
        names = list(label_names)
        lookup = {name.lower(): i for i, name in enumerate(names)}
        if all(value.lower() in lookup for value in distinct):
            return names, [lookup[value.lower()] for value in raw]
        if all(value.isdigit() and int(value) < len(names) for value in distinct):
            return names, [int(value) for value in raw]
        raise DataFileError(
            f"{path}: labels {distinct[:10]} match neither the names {names} nor indices 0..{len(names) - 1}"
        )
    if all(value.isdigit() for value in distinct):
        count = max(int(v) for v in distinct) + 1
        names = ["NEGATIVE", "POSITIVE"] if count == 2 else [f"LABEL_{i}" for i in range(count)]
        return names, [int(value) for value in raw]
    return distinct, [distinct.index(value) for value in raw]


def split_holdout(data: LabelledData, fraction: float, seed: int) -> tuple[LabelledData, LabelledData]:
    """Split off a random, reproducible held-out share of ``data``."""
    if not 0.0 < fraction < 1.0:
        raise InvalidInputError(f"dev fraction must be between 0 and 1, got {fraction}")
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(order) * fraction))
    return data.subset(sorted(order[cut:])), data.subset(sorted(order[:cut]))
