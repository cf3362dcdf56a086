"""The models moodline ships: accuracy floors, the plain-sentence list, size, cards, no torch at serve time.

Floors sit several examples below the figures measured on AVX-512 VNNI and AVX2 machines (int8
arithmetic rounds differently between CPU kinds, and activations are quantized per engine batch),
so a floor fails on a real regression, not on a CPU.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.inference.emotions import EMOTION_LABELS, EmotionScorer
from moodline.inference.engine import Engine
from moodline.inference.sources import (
    BUNDLED_MODEL_DIR,
    BUNDLED_MODEL_NAME,
    EMOTION_MODEL_NAME,
    MODELS_DIR,
    SST2_MODEL_NAME,
)
from moodline.training.mixture import DataMixture
from moodline.training.suite import SuiteRow, run_suite
from tests.conftest import ROOT, SHARED_DATA, require_shared_data

SST2_DIR = MODELS_DIR / SST2_MODEL_NAME
# SST-2 model: 786/872 = 0.9014 measured with AVX-512 VNNI, AMX and AVX2 (emulated, benchmarks/cpu_kinds.py);
# the floor is 6 sentences below.
SST2_ACCURACY_FLOOR = 780 / 872
# Default model, per dev set: (metric, floor). The floors are the product's targets; measured values
# (model card) are 3-10 points above them: MELD dev weighted-F1 0.675, macro-F1 0.654 with VNNI or AMX;
# TweetEval macro-recall 0.709 (VNNI); with AVX2 (emulated) MELD 0.6736 and 0.6515.
DEFAULT_FLOORS = {
    "meld-dev": {"weighted_f1": 0.62, "macro_f1": 0.55},
    "tweeteval-val": {"macro_recall": 0.68},
}
# Measured after calibration (a temperature by text length, logit margin and the label answered):
# DailyDialog 0.033 (the worst set), MELD dev 0.031, SST-2 0.030, TweetEval 0.028, within the 0.05
# target (see the model card); this ceiling guards against a calibration that got worse, with room
# for another CPU's int8 rounding.
ECE_CEILING = 0.08
# 57 of the 60 sentences are scored right (the card lists the misses: "I hear you, let's fix it
# together." read as neutral, two plain review statements as positive); the target is all 60. The
# floor, 4 below, keeps them from slipping on any CPU kind.
PLAIN_SENTENCES_FLOOR = 53
PLAIN_SENTENCES = ROOT / "tests" / "data" / "plain_sentences.tsv"
QUOTED = ["The support team was friendly and fixed my problem quickly.", "I hear you, let's fix it together."]


@pytest.fixture(scope="module")
def suite() -> dict[str, SuiteRow]:
    require_shared_data()
    mix = DataMixture.load("sentiment-3way", root=SHARED_DATA)
    sets = [s for s in mix.read_dev() if s.name in {"meld-dev", "tweeteval-val", "dailydialog-val", "sst2-dev"}]
    rows = run_suite(Engine.load(), sets, mix.label_names)
    band = run_suite(Engine.load(SST2_MODEL_NAME), [s for s in sets if s.name == "dailydialog-val"], mix.label_names)
    return {row.set: row for row in rows} | {"dailydialog-val band": band[0]}


@pytest.mark.parametrize(("name", "floors"), DEFAULT_FLOORS.items())
def test_default_model_floors_on_conversation_and_tweets(suite, name, floors):
    row = suite[name]
    for metric, floor in floors.items():
        assert getattr(row, metric) >= floor, f"{name} {metric} {getattr(row, metric):.4f} < {floor}"


def test_default_model_beats_the_sst2_model_with_the_band_on_dailydialog(suite):
    assert suite["dailydialog-val"].macro_f1 > suite["dailydialog-val band"].macro_f1 + 0.05


@pytest.mark.parametrize("name", ["meld-dev", "tweeteval-val", "dailydialog-val", "sst2-dev"])
def test_default_model_is_calibrated(suite, name):
    assert suite[name].ece is not None and suite[name].ece <= ECE_CEILING


def test_default_model_two_way_on_sst2_stays_useful(suite):
    # The SST-2 model remains the better two-way model on movie-review phrases (and keeps shipping).
    assert suite["sst2-dev"].mode == "two-way" and suite["sst2-dev"].accuracy >= 0.85


def test_plain_sentences_are_scored_right():
    with PLAIN_SENTENCES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) >= 50 and {r["domain"] for r in rows} == {"call", "meeting", "review"}
    predictions = Engine.load().predict([r["text"] for r in rows])
    wrong = [
        (r["text"], r["label"], p.label.lower())
        for r, p in zip(rows, predictions, strict=True)
        if p.label.lower() != r["label"]
    ]
    assert len(rows) - len(wrong) >= PLAIN_SENTENCES_FLOOR, wrong
    # Never the opposite polarity: the misses are polar sentences read as neutral, not flipped ones.
    assert not [w for w in wrong if {w[1], w[2]} == {"positive", "negative"}], wrong


def test_the_two_sentences_that_started_the_three_way_model():
    # Both were scored confidently negative by the SST-2 model; neither may be negative now.
    labels = [p.label for p in Engine.load().predict(QUOTED)]
    assert "NEGATIVE" not in labels, labels


def test_reference_sentences():
    result = CliRunner().invoke(main, ["predict", "--json", "It is worth it", "It is a waste of time and money"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] for line in result.output.splitlines()] == ["POSITIVE", "NEGATIVE"]
    two_way = CliRunner().invoke(main, ["predict", "--json", "--two-way", "The meeting is at ten"])
    assert set(json.loads(two_way.output)["scores"]) == {"NEGATIVE", "POSITIVE"}


def test_sst2_model_accuracy_floor(sst2_dev):
    result = CliRunner().invoke(main, ["evaluate", SST2_MODEL_NAME, "--data", str(sst2_dev), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 872 and report["model"]["quantization"] == "int8"
    assert report["accuracy"] >= SST2_ACCURACY_FLOOR
    card = (SST2_DIR / "MODEL_CARD.md").read_text()
    stated = float(re.search(r"SST-2 dev accuracy, int8 \(this model\) \| \*\*([0-9.]+)\*\*", card).group(1))
    assert stated == pytest.approx(report["accuracy"], abs=6 / 872)  # within the floor's margin


@pytest.mark.parametrize("directory", [BUNDLED_MODEL_DIR, SST2_DIR], ids=["default", "sst2"])
def test_ships_only_what_serving_needs_and_stays_small(directory: Path):
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["MODEL_CARD.md", "model.onnx", "moodline.json", "tokenizer.json"]
    assert sum(p.stat().st_size for p in directory.iterdir()) < 30 * 1024 * 1024


def test_models_command_lists_all_three_default_first():
    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert list(rows)[0] == BUNDLED_MODEL_NAME
    assert sorted(rows) == sorted([BUNDLED_MODEL_NAME, SST2_MODEL_NAME, EMOTION_MODEL_NAME])
    default = rows[BUNDLED_MODEL_NAME]
    assert default["default"] and default["labels"] == ["NEGATIVE", "NEUTRAL", "POSITIVE"] and default["calibrated"]
    assert rows[SST2_MODEL_NAME]["labels"] == ["NEGATIVE", "POSITIVE"]
    assert sorted(label.lower() for label in rows[EMOTION_MODEL_NAME]["labels"]) == sorted(EMOTION_LABELS)
    assert not rows[SST2_MODEL_NAME]["default"] and not rows[EMOTION_MODEL_NAME]["default"]
    assert Engine.load(SST2_MODEL_NAME).labels == ["NEGATIVE", "POSITIVE"]
    # Loaded by name like the others, and usable as the emotion model.
    EmotionScorer(Engine.load(EMOTION_MODEL_NAME))


def test_default_model_card_states_the_suite_it_was_shipped_with(suite):
    card = (BUNDLED_MODEL_DIR / "MODEL_CARD.md").read_text()
    for name in ("meld-dev", "tweeteval-val"):
        line = next(line for line in card.splitlines() if line.startswith(f"| {name} | int8 |"))
        stated = float(line.split("|")[6])  # macro-F1 column
        # The card states the VNNI figure (MELD 0.6541); AVX2's saturating int8 kernel gives 0.6515
        # (benchmarks/cpu_kinds.py --emulate avx2), so the card holds within 0.03 on either kind.
        assert stated == pytest.approx(suite[name].macro_f1, abs=0.03)
    assert "moodline train --mix sentiment-3way" in card and "licence" in card


def test_serving_needs_no_torch():
    # A meta-path hook that refuses torch and transformers, as in a serving image without them.
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'transformers'}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from moodline import Analyzer
print(Analyzer().predict('It is worth it').label)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "POSITIVE"
