from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.inference.engine import Engine
from moodline.inference.prediction import Prediction
from moodline.inference.three_way import ThreeWayBand, to_two_way
from moodline.training.evaluation import classification_report
from moodline.training.mixture import SourceData
from moodline.training.suite import format_suite, run_suite

LABELS = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
TEXTS = [f"sentence {i} about {'rain' if i % 3 else 'sun'} and {'cats' if i % 2 else 'dogs'}" for i in range(45)]


def test_three_way_and_two_way_sets_are_scored_as_a_client_would(tiny_engine):
    three = SourceData("three", TEXTS, [i % 3 for i in range(45)], (0, 1, 2))
    binary = SourceData("binary", TEXTS[:20], [0 if i % 2 else 2 for i in range(20)], (0, 2))
    rows = run_suite(tiny_engine, [three, binary], LABELS, model_name="tiny")
    assert [(r.set, r.mode, r.examples) for r in rows] == [("three", "three-way", 45), ("binary", "two-way", 20)]
    # The three-way row equals the model's own argmax scored directly.
    predicted = [
        int(np.argmax([p.scores[n] for n in ("negative", "neutral", "positive")])) for p in tiny_engine.predict(TEXTS)
    ]
    direct = classification_report(three.labels, predicted, LABELS)
    assert rows[0].accuracy == pytest.approx(direct["accuracy"])
    assert rows[0].weighted_f1 == pytest.approx(direct["weighted_f1"])
    assert rows[0].macro_recall == pytest.approx(direct["macro_recall"])
    # The two-way row: the larger of negative and positive, never neutral.
    two_way = [to_two_way(p).label for p in tiny_engine.predict(TEXTS[:20])]
    expected = sum((label == "negative") == (truth == 0) for label, truth in zip(two_way, binary.labels, strict=True))
    assert rows[1].accuracy == pytest.approx(expected / 20)
    assert rows[0].ece is not None and 0 <= rows[0].ece <= 1
    table = format_suite(rows)
    assert table.splitlines()[2].startswith("| three | tiny | three-way | 45 |")


def test_a_binary_model_answers_three_way_sets_through_its_band(tiny_onnx_model, tmp_path):
    import shutil

    binary_dir = tmp_path / "binary"
    shutil.copytree(tiny_onnx_model, binary_dir)
    meta = json.loads((binary_dir / "moodline.json").read_text())
    assert len(meta["labels"]) == 3
    engine = Engine.load(binary_dir)

    class TwoLabels:  # the tiny model's negative and positive columns, as a binary model would give them
        labels = ["NEGATIVE", "POSITIVE"]
        info = engine.info

        def probabilities(self, texts):
            p, t, c = engine.probabilities(texts)
            two = p[:, [0, 2]] / p[:, [0, 2]].sum(1, keepdims=True)
            return two, t, c

    three = SourceData("three", TEXTS, [i % 3 for i in range(45)], (0, 1, 2))
    [row] = run_suite(TwoLabels(), [three], LABELS, band=ThreeWayBand(0.4, 0.6), model_name="binary")  # type: ignore[arg-type]
    assert row.mode == "band" and row.ece is None


def test_to_two_way_renormalises_negative_and_positive():
    three = Prediction("NEUTRAL", 0.6, {"NEGATIVE": 0.1, "NEUTRAL": 0.6, "POSITIVE": 0.3})
    two = to_two_way(three)
    assert two.label == "POSITIVE" and two.scores == pytest.approx({"NEGATIVE": 0.25, "POSITIVE": 0.75})
    assert two.score == pytest.approx(0.75)
    binary = Prediction("NEGATIVE", 0.8, {"NEGATIVE": 0.8, "POSITIVE": 0.2})
    assert to_two_way(binary) is binary


def test_cli_suite_needs_data_or_suite_not_both(tmp_path):
    result = CliRunner().invoke(main, ["evaluate"])
    assert result.exit_code == 2 and "either --data FILE or --suite" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--suite", "--data", str(tmp_path / "x.tsv")])
    assert result.exit_code == 2


def test_cli_suite_on_a_tiny_mix(tiny_onnx_model, tmp_path):
    (tmp_path / "dev.csv").write_text(
        "text,label\n" + "".join(f"{t},{['negative', 'neutral', 'positive'][i % 3]}\n" for i, t in enumerate(TEXTS))
    )
    (tmp_path / "mix.toml").write_text(
        'labels = ["NEGATIVE", "NEUTRAL", "POSITIVE"]\nroot = "."\n'
        '[[source]]\nname = "train"\npath = "dev.csv"\ntext_column = "text"\n'
        '[[dev]]\nname = "dev"\npath = "dev.csv"\ntext_column = "text"\n'
    )
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            str(tiny_onnx_model),
            "--suite",
            "--mix",
            str(tmp_path / "mix.toml"),
            "--compare",
            str(tiny_onnx_model),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["set"], r["mode"], r["examples"]) for r in rows] == [("dev", "three-way", 45)] * 2
    assert rows[0]["macro_f1"] == rows[1]["macro_f1"]


def test_labels_that_are_not_sentiment_are_matched_by_name(tiny_onnx_model, tmp_path):
    import shutil

    from moodline.core.errors import InvalidInputError
    from moodline.training.evaluation import model_columns

    emotions = tmp_path / "emotions"
    shutil.copytree(tiny_onnx_model, emotions)
    meta = json.loads((emotions / "moodline.json").read_text())
    meta["labels"] = ["anger", "joy", "neutral"]
    (emotions / "moodline.json").write_text(json.dumps(meta))
    engine = Engine.load(emotions)
    names = ["Joy", "neutral", "ANGER"]  # the data's order and spelling, not the model's
    assert model_columns(engine.labels, names) == [1, 2, 0]
    assert model_columns(["NEGATIVE", "NEUTRAL", "POSITIVE"], ["pos", "neg"]) == [2, 0]
    with pytest.raises(InvalidInputError, match="lack"):
        model_columns(engine.labels, ["joy", "fear"])
    every = SourceData("every", TEXTS, [i % 3 for i in range(45)], (0, 1, 2))
    some = SourceData("some", TEXTS, [0 if i % 2 else 2 for i in range(45)], (0, 2))
    rows = run_suite(engine, [every, some], names, model_name="emotions")
    assert [(r.mode, r.examples) for r in rows] == [("3-way", 45), ("2-way", 45)]
    probabilities = engine.probabilities(TEXTS)[0]
    direct = probabilities[:, [1, 2, 0]].argmax(1)
    assert rows[0].accuracy == pytest.approx(np.mean(direct == np.array(every.labels)))
    # A set without "neutral" is answered over joy and anger only.
    two = probabilities[:, [1, 0]].argmax(1) * 2  # 0 -> joy (id 0), 1 -> anger (id 2)
    assert rows[1].accuracy == pytest.approx(np.mean(two == np.array(some.labels)))
