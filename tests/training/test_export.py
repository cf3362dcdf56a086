from __future__ import annotations

import json

import pytest

from moodline.core.errors import InvalidInputError, ModelNotFoundError
from moodline.inference.engine import Engine
from moodline.training import export as export_module
from moodline.training.export import ExportCheckError, export_model


def test_fp32_export_matches_the_source(tiny_onnx_model):
    meta = json.loads((tiny_onnx_model / "moodline.json").read_text())
    check = meta["export_check"]
    assert check["agreement_all"] == 1.0
    assert check["max_abs_prob_diff"] < 1e-4
    assert meta["labels"] == ["negative", "neutral", "positive"] and meta["quantization"] is None
    assert sorted(p.name for p in tiny_onnx_model.iterdir()) == ["model.onnx", "moodline.json", "tokenizer.json"]


def test_int8_export_is_smaller_and_close(tiny_hf_model, tiny_onnx_model, tmp_path):
    report = export_model(tiny_hf_model, tmp_path / "int8", quantize="int8")
    assert report["agreement"] >= 0.95
    assert report["mean_abs_prob_diff"] < 0.05
    assert (tmp_path / "int8" / "model.onnx").stat().st_size < 0.5 * (tiny_onnx_model / "model.onnx").stat().st_size
    engine = Engine.load(tmp_path / "int8")
    assert engine.info.quantization == "int8"


def test_failed_check_publishes_nothing(tiny_hf_model, tmp_path, monkeypatch):
    def disagreeing(*args, **kwargs):
        return {
            "texts": 10,
            "decided_texts": 10,
            "agreement": 0.5,
            "agreement_all": 0.5,
            "max_abs_prob_diff": 0.9,
            "mean_abs_prob_diff": 0.4,
        }

    monkeypatch.setattr(export_module, "check_agreement", disagreeing)
    with pytest.raises(ExportCheckError, match="agrees with the source on 50.0%"):
        export_model(tiny_hf_model, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_agreement_check_detects_a_different_model(tiny_hf_model, tiny_engine):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_hf_model)
    with torch.no_grad():
        model.classifier.weight.neg_()
    report = export_module.check_agreement(
        model, AutoTokenizer.from_pretrained(tiny_hf_model), tiny_engine, export_module.PROBE_TEXTS
    )
    assert report["agreement_all"] < 0.9


def test_refuses_to_overwrite_without_force(tiny_hf_model, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="--force"):
        export_model(tiny_hf_model, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_unknown_source_leaves_no_output(tmp_path):
    with pytest.raises(ModelNotFoundError):
        export_model(tmp_path / "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_distilbert_architecture_exports_and_agrees(tmp_path):
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from moodline.inference.sources import resolve_local

    torch.manual_seed(1)
    source = tmp_path / "distilbert"
    config = DistilBertConfig(
        dim=32,
        hidden_dim=64,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=128,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = DistilBertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.mul_(50)
    model.save_pretrained(source)
    AutoTokenizer.from_pretrained(resolve_local("all-MiniLM-L6-v2"), model_max_length=128).save_pretrained(source)
    for quantize in (None, "int8"):
        report = export_model(source, tmp_path / f"out-{quantize}", quantize=quantize)
        assert report["agreement"] >= (1.0 if quantize is None else 0.95)
    engine = Engine.load(tmp_path / "out-int8")
    assert engine.labels == ["NEGATIVE", "POSITIVE"] and engine.info.max_length == 128
