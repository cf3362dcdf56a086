"""Inputs for the batch scorer tests: SST-2-like CSVs with a few bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

WORDS = "good bad great awful film plot actors boring moving funny dull the a was is very not".split()


def sentence(index: int) -> str:
    # deterministic, varied lengths so length bucketing and padding matter
    length = 3 + (index * 7) % 23
    return " ".join(WORDS[(index * 13 + k * 5) % len(WORDS)] for k in range(length))


def write_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "text", "note"])
        for index in range(rows):
            text = "" if bad_every and index % bad_every == bad_every - 1 else sentence(index)
            writer.writerow([f"r{index}", text, f'note, "{index}"'])
    return path
