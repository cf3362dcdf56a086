"""Tune the three-way neutral band on MELD with the bundled model; the source of ``DEFAULT_BAND``.

Prints the band that maximises macro-F1 on the whole MELD dev file and its macro-F1 beside the two
baselines (binary model alone, always neutral). Tuning and scoring on one file is optimistic, so it
also prints a cross-fitted estimate: tune on dialogues with even ``Dialogue_ID`` and score the odd ones,
then the other way round.

    python scripts/tune_three_way.py [--meld ../shared/data/meld/dev_sent_emo.csv] [--step 0.01]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from moodline.core.datafiles import read_labelled, read_rows
from moodline.inference.engine import Engine
from moodline.inference.three_way import BINARY_BAND, THREE_WAY_LABELS, ThreeWayBand, ThreeWayScorer, three_way_ids
from moodline.training.evaluation import classification_report
from moodline.training.three_way import tune_band

ROOT = Path(__file__).resolve().parents[1]
MELD = ROOT.parent / "shared" / "data" / "meld" / "dev_sent_emo.csv"


def macro_f1(true: np.ndarray, predicted: np.ndarray) -> float:
    return float(classification_report(true.tolist(), predicted.tolist(), list(THREE_WAY_LABELS))["macro_f1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meld", type=Path, default=MELD)
    parser.add_argument("--step", type=float, default=0.01)
    args = parser.parse_args()

    data = read_labelled(
        args.meld, text_column="Utterance", label_column="Sentiment", label_names=["negative", "neutral", "positive"]
    )
    dialogues = np.array([int(str(row["Dialogue_ID"])) for _, row in read_rows(args.meld)])
    assert len(dialogues) == len(data)
    mapping = three_way_ids(data.label_names)
    true = np.array([mapping[label] for label in data.labels])

    scorer = ThreeWayScorer(Engine.load())
    p = scorer.p_positive(data.texts)

    band, tuned_f1 = tune_band(p, true.tolist(), step=args.step)
    whole = {
        "band": band.to_dict(),
        "macro_f1_tuned": tuned_f1,
        "macro_f1_always_binary": macro_f1(true, BINARY_BAND.classify(p)),
        "macro_f1_always_neutral": macro_f1(true, np.ones_like(true)),
    }

    folds = {}
    out_of_fold = np.empty_like(true)
    for name, tune_mask in (("tune_even_score_odd", dialogues % 2 == 0), ("tune_odd_score_even", dialogues % 2 == 1)):
        fold_band, fold_tuned = tune_band(p[tune_mask], true[tune_mask].tolist(), step=args.step)
        held = ~tune_mask
        predicted = fold_band.classify(p[held])
        out_of_fold[held] = predicted
        folds[name] = {
            "band": fold_band.to_dict(),
            "tuning_examples": int(tune_mask.sum()),
            "scored_examples": int(held.sum()),
            "macro_f1_on_tuning_half": fold_tuned,
            "macro_f1_held_out": macro_f1(true[held], predicted),
            "macro_f1_held_out_always_binary": macro_f1(true[held], BINARY_BAND.classify(p[held])),
            "macro_f1_held_out_always_neutral": macro_f1(true[held], np.ones_like(true[held])),
        }
    cross_fitted = {"folds": folds, "macro_f1_pooled_out_of_fold": macro_f1(true, out_of_fold)}

    result = {
        "data": str(args.meld),
        "examples": len(data),
        "class_counts": dict(zip(THREE_WAY_LABELS, np.bincount(true, minlength=3).tolist(), strict=True)),
        "step": args.step,
        "whole_file": whole,
        "cross_fitted_even_odd_dialogues": cross_fitted,
    }
    print(json.dumps(result, indent=2))
    print(f"DEFAULT_BAND = {ThreeWayBand(band.low, band.high)!r}")


if __name__ == "__main__":
    main()
