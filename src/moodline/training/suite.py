"""The accuracy suite: one model scored on every labelled dev set, one table.

The sets are the ``[[dev]]`` tables of a data mix (by default the shipped ``sentiment-3way`` mix: SST-2
dev, MELD dev, TweetEval validation, DailyDialog validation, and the seeded held-out tenth of each
review set the bundled model trained on). Any model can be scored:

* a three-label model (negative / neutral / positive under any spelling) by its argmax;
* a binary model through the neutral band (:mod:`moodline.inference.three_way`); it has no neutral probability,
  so its expected calibration error is not defined on three-way sets and is left out;
* on a set with two of the labels (SST-2) every model answers two-way: probabilities renormalised
  over negative and positive, as a client asking for a two-way answer gets them;
* a mix whose labels are not sentiment (the emotion mix: anger ... surprise) is scored by the model's
  columns of the same names, its argmax over the labels the set has (``"7-way"``).

Example::

    from moodline import Engine
    from moodline.training.mixture import DataMixture
    rows = run_suite(Engine.load(), DataMixture.load("sentiment-3way").read_dev())
    rows[0].macro_f1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.inference.three_way import (
    DEFAULT_BAND,
    THREE_WAY_LABELS,
    ThreeWayBand,
    ThreeWayScorer,
    is_sentiment,
    three_way_ids,
)
from moodline.training.calibration import restricted
from moodline.training.evaluation import calibration, classification_report, model_columns, score_in_chunks
from moodline.training.mixture import SourceData

__all__ = ["SuiteRow", "format_suite", "run_suite"]


@dataclass(frozen=True)
class SuiteRow:
    """One model's figures on one dev set."""

    model: str
    set: str
    mode: str  # "three-way", "two-way" or "band" (a binary model's three-way answer)
    examples: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    macro_recall: float
    ece: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_report(cls, model: str, dev: SourceData, mode: str, report: dict[str, Any], ece: float | None) -> SuiteRow:
        return cls(
            model=model,
            set=dev.name,
            mode=mode,
            examples=len(dev),
            accuracy=report["accuracy"],
            macro_f1=report["macro_f1"],
            weighted_f1=report["weighted_f1"],
            macro_recall=report["macro_recall"],
            ece=ece,
        )


def run_suite(
    engine: Engine,
    sets: Sequence[SourceData],
    label_names: Sequence[str],
    *,
    band: ThreeWayBand = DEFAULT_BAND,
    model_name: str | None = None,
) -> list[SuiteRow]:
    """Score ``engine`` on every set; ``label_names`` are the sets' label names (three-way ids by name)."""
    name = model_name or engine.info.name
    if not is_sentiment(label_names):
        return _run_by_label_name(engine, sets, label_names, name)
    to_three_way = three_way_ids(label_names)
    scorer = ThreeWayScorer(engine, band)
    rows = []
    for dev in sets:
        matrix = scorer.columns_of(score_in_chunks(engine, dev.texts, desc=dev.name))
        true = np.array([to_three_way[y] for y in dev.labels])
        allowed = sorted(to_three_way[i] for i in dev.allowed)
        if len(allowed) == 3:
            predicted = scorer.labels_of(matrix)
            probabilities: np.ndarray | None = None if scorer.binary else matrix
            mode = "band" if scorer.binary else "three-way"
        elif len(allowed) == 2:
            probabilities = restricted(matrix, allowed)
            predicted = probabilities.argmax(1)
            mode = "two-way"
        else:
            raise InvalidInputError(f"dev set {dev.name!r} has {len(allowed)} label(s); the suite needs 2 or 3")
        report = classification_report(true.tolist(), predicted.tolist(), list(THREE_WAY_LABELS))
        ece = None
        if probabilities is not None:
            ece, _ = calibration(probabilities.max(1), predicted == true)
        rows.append(SuiteRow.from_report(name, dev, mode, report, ece))
    return rows


def _run_by_label_name(
    engine: Engine, sets: Sequence[SourceData], label_names: Sequence[str], name: str
) -> list[SuiteRow]:
    """The suite for labels that are not sentiment: the model's columns matched to the sets' labels by name."""
    columns = model_columns(engine.labels, label_names)
    rows = []
    for dev in sets:
        matrix = score_in_chunks(engine, dev.texts, desc=dev.name)[:, columns]
        allowed = sorted(dev.allowed)
        probabilities = restricted(matrix, allowed)
        predicted = probabilities.argmax(1)
        true = np.asarray(dev.labels)
        present = [label_names[i] for i in allowed]
        # Scored over the labels the set has, so a class it lacks does not count as a zero F1.
        position = {label: index for index, label in enumerate(allowed)}
        report = classification_report(
            [position[y] for y in true.tolist()], [position[y] for y in predicted.tolist()], present
        )
        ece, _ = calibration(probabilities.max(1), predicted == true)
        rows.append(SuiteRow.from_report(name, dev, f"{len(allowed)}-way", report, ece))
    return rows


def format_suite(rows: Sequence[SuiteRow]) -> str:
    """A Markdown table, one row per model and set."""
    lines = [
        "| set | model | answer | n | accuracy | macro-F1 | weighted-F1 | macro-recall | ECE |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = list(dict.fromkeys(row.set for row in rows))  # sets in the order they were scored
    for row in sorted(rows, key=lambda r: order.index(r.set)):
        ece = "-" if row.ece is None else f"{row.ece:.4f}"
        lines.append(
            f"| {row.set} | {row.model} | {row.mode} | {row.examples} | {row.accuracy:.4f} | {row.macro_f1:.4f} "
            f"| {row.weighted_f1:.4f} | {row.macro_recall:.4f} | {ece} |"
        )
    return "\n".join(lines)
