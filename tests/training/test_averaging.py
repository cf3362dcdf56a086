from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

from moodline.cli import main
from moodline.core.errors import InvalidInputError, ModelLoadError
from moodline.inference.engine import Engine
from moodline.training.averaging import average_models

pytestmark = pytest.mark.slow


def perturbed_copy(source, target, seed: int):
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(source)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    model.save_pretrained(target)
    return model


def test_average_is_the_elementwise_mean(tiny_hf_model, tmp_path):
    a = perturbed_copy(tiny_hf_model, tmp_path / "a", 1)
    b = perturbed_copy(tiny_hf_model, tmp_path / "b", 2)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # the tokenizer ships with the second model only
        (tmp_path / "b" / name).write_bytes((tiny_hf_model / name).read_bytes())
    result = CliRunner().invoke(
        main, ["average", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "soup")]
    )
    assert result.exit_code == 0, result.output
    soup = AutoModelForSequenceClassification.from_pretrained(tmp_path / "soup")
    for (name, pa), pb, ps in zip(a.named_parameters(), b.parameters(), soup.parameters(), strict=True):
        assert torch.allclose(ps, (pa + pb) / 2, atol=1e-6), name
    assert json.loads((tmp_path / "soup" / "averaged_from.json").read_text())["sources"] == [
        str(tmp_path / "a"),
        str(tmp_path / "b"),
    ]
    assert Engine.load(tmp_path / "soup", backend="transformers").labels == ["negative", "neutral", "positive"]


def test_refuses_mismatched_models(tiny_hf_model, tmp_path):
    other = BertForSequenceClassification(
        BertConfig(
            vocab_size=30522,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            num_labels=3,
            id2label={0: "negative", 1: "neutral", 2: "positive"},
            label2id={"negative": 0, "neutral": 1, "positive": 2},
        )
    )
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(InvalidInputError, match="differ in shape"):
        average_models([tiny_hf_model, tmp_path / "other"], tmp_path / "soup")
    with pytest.raises(InvalidInputError, match="at least two"):
        average_models([tiny_hf_model], tmp_path / "soup")
    assert not (tmp_path / "soup").exists()


def test_a_directory_without_tokenizer_files_is_refused(tiny_hf_model, tmp_path):
    perturbed_copy(tiny_hf_model, tmp_path / "bare", 3)
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        Engine.load(tmp_path / "bare", backend="transformers")
