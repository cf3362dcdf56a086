"""scripts/dequantize_model.py: an int8 package read back into PyTorch weights close to the originals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodline.training.export import export_model
from tests.scripts import load_script

pytestmark = pytest.mark.slow


def test_every_weight_comes_back_within_its_quantization_step(tiny_hf_model, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    # A trained model's biases and LayerNorm parameters all differ; the untrained tiny one's are zeros
    # and ones, which the exporter would merge into one shared tensor, so they are made distinct first.
    model = AutoModelForSequenceClassification.from_pretrained(tiny_hf_model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.01)
    model.save_pretrained(tmp_path / "trained")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "trained" / name).write_bytes((Path(tiny_hf_model) / name).read_bytes())
    export_model(tmp_path / "trained", tmp_path / "int8", quantize="int8")
    state = load_script("dequantize_model").state_dict_of(tmp_path / "int8" / "model.onnx")
    original = {name: value.numpy() for name, value in model.state_dict().items() if not name.endswith("position_ids")}
    assert state.keys() == original.keys()
    for name, value in original.items():
        rebuilt = state[name]
        assert rebuilt.shape == value.shape, name
        # int8 keeps each value within half a step of its channel's range / 255; fp32 ones are exact.
        step = (np.abs(value).max() * 2 / 255) if rebuilt.dtype == np.float32 else 0
        assert np.abs(rebuilt - value).max() <= step * 0.51 + 1e-6, name
    # The query/key/value split is the right way round: the rebuilt model answers as the original.
    rebuilt_model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "trained")
    rebuilt_model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
    ids = torch.tensor([[101, 2009, 2001, 2307, 102]])
    with torch.no_grad():
        expected, got = model(input_ids=ids).logits, rebuilt_model(input_ids=ids).logits
    assert torch.allclose(expected, got, atol=0.05)
