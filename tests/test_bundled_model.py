"""The model moodline ships: accuracy floor, reference predictions, size, card, and no torch at serve time."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.model_source import BUNDLED_MODEL_DIR

ACCURACY_FLOOR = 0.900


@pytest.fixture(scope="module")
def dev_report(sst2_dev):
    result = CliRunner().invoke(main, ["evaluate", "--data", str(sst2_dev), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_sst2_dev_accuracy_is_at_least_90_percent(dev_report):
    assert dev_report["examples"] == 872
    assert dev_report["model"]["quantization"] == "int8"
    assert dev_report["accuracy"] >= ACCURACY_FLOOR


def test_reference_sentences():
    result = CliRunner().invoke(main, ["predict", "--json", "It is worth it", "It is a waste of time and money"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] for line in result.output.splitlines()] == ["POSITIVE", "NEGATIVE"]


def test_ships_only_what_serving_needs_and_stays_small():
    names = sorted(p.name for p in BUNDLED_MODEL_DIR.iterdir())
    assert names == ["MODEL_CARD.md", "model.onnx", "moodline.json", "tokenizer.json"]
    assert sum(p.stat().st_size for p in BUNDLED_MODEL_DIR.iterdir()) < 40 * 1024 * 1024


def test_model_card_states_the_measured_int8_accuracy(dev_report):
    card = (BUNDLED_MODEL_DIR / "MODEL_CARD.md").read_text()
    stated = float(re.search(r"SST-2 dev accuracy, int8 \(this model\) \| \*\*([0-9.]+)\*\*", card).group(1))
    assert stated == pytest.approx(dev_report["accuracy"], abs=1e-4)
    assert "moodline train --data ../shared/data/sst2/train.tsv" in card
    assert "--seed" in card


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
