from __future__ import annotations

import numpy as np
import pytest

from moodline.core.datafiles import LabelledData
from moodline.core.errors import InvalidInputError
from moodline.training.evaluation import calibration, classification_report, evaluate


def test_classification_report_by_hand():
    true = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    report = classification_report(true, predicted, ["neg", "neu", "pos"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["neg"] == {
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(0.8),
        "support": 3,
    }
    assert report["per_class"]["neu"]["precision"] == 0.5 and report["per_class"]["neu"]["recall"] == 0.5
    assert report["per_class"]["pos"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_ece_by_hand():
    confidence = np.array([0.95, 0.95, 0.65, 0.65])
    correct = np.array([True, True, True, False])
    ece, bins = calibration(confidence, correct, bins=10)
    # bin (0.9,1.0]: acc 1.0 vs conf 0.95 -> 0.05*0.5 ; bin (0.6,0.7]: acc 0.5 vs 0.65 -> 0.15*0.5
    assert ece == pytest.approx(0.1)
    assert sum(b["count"] for b in bins) == 4


def test_perfectly_calibrated_scores_have_zero_ece():
    ece, _ = calibration(np.array([1.0, 1.0]), np.array([True, True]))
    assert ece == 0.0


def test_evaluate_a_model_writes_report_and_plots(tiny_engine, tmp_path):
    texts = ["good", "bad", "fine", "so so", "great stuff", "terrible stuff"]
    data = LabelledData(texts, [2, 0, 1, 1, 2, 0], ["negative", "neutral", "positive"])
    report = evaluate(tiny_engine, data, plots_dir=tmp_path)
    predicted = [tiny_engine.labels.index(p.label) for p in tiny_engine.predict(texts)]
    expected = sum(p == t for p, t in zip(predicted, data.labels, strict=True)) / len(texts)
    assert report["accuracy"] == pytest.approx(expected)
    assert report["examples"] == 6 and report["throughput_per_second"] > 0
    for name in ("confusion_matrix.png", "reliability.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_label_mismatch_is_refused(tiny_engine):
    with pytest.raises(InvalidInputError, match="do not match"):
        evaluate(tiny_engine, LabelledData(["x"], [0], ["NEGATIVE", "POSITIVE"]))
