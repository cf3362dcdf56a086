"""Rebuild a trainable fp32 checkpoint from a packaged int8 BERT-family model (moodline's ONNX export).

A packaged model keeps only its int8 ONNX graph; to train it further (a later stage on a new data mix)
the weights are read back: each int8 tensor times its per-channel scale, minus its zero point, the fused
query/key/value matrix split into its three parts, saved as a Hugging Face sequence-classification
checkpoint with the package's tokenizer. The rebuilt model's answers are checked against the int8
graph's on the dev texts given, and the script fails when they agree too rarely. Weights are found by
the names the exporter gave them; a graph in which it merged equal tensors into one (an untrained
model's zero biases) is refused with the names it lacks.

    python scripts/dequantize_model.py src/moodline/models/moodline-sentiment-minilm-l6 \\
        --config sentence-transformers/all-MiniLM-L6-v2 --output runs/sentiment-minilm-l6-dequantized
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

from moodline.inference.engine import Engine
from moodline.inference.model_dir import ONNX_FILE, TOKENIZER_FILE, load_metadata
from moodline.inference.sources import resolve_local
from moodline.inference.temperature import UNCALIBRATED
from moodline.training.mixture import DataMixture

# The fused attention node of layer N holds query, key and value side by side along its output axis.
ATTENTION = re.compile(r"Attention_(\d+)_qkv_weight_quantized")
# A quantized MatMul is named after the PyTorch module it came from.
MATMUL_NODE = re.compile(r"/(bert/encoder/layer\.\d+/[a-z_/]+?/dense|bert/pooler/dense|classifier)/")
MIN_AGREEMENT = 0.95


def dequantized(initializers: dict[str, np.ndarray], quantized: str) -> np.ndarray:
    """``(q - zero_point) * scale`` for the int8 tensor ``quantized`` (per output channel or per tensor)."""
    stem = quantized.removesuffix("_quantized")
    values = initializers[quantized].astype(np.float32)
    zero = initializers[f"{stem}_zero_point"].astype(np.float32)
    return (values - zero) * initializers[f"{stem}_scale"].astype(np.float32)


def state_dict_of(onnx_path: Path) -> dict[str, np.ndarray]:
    """The PyTorch parameter names and fp32 values of a quantized BERT sequence classifier."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # Biases, LayerNorms and anything else kept fp32 under its PyTorch name.
    state = {
        name: value
        for name, value in initializers.items()
        if (name.startswith(("bert.", "classifier.")) and value.dtype == np.float32 and "_scale" not in name)
    }
    for kind in ("word", "position", "token_type"):
        state[f"bert.embeddings.{kind}_embeddings.weight"] = dequantized(
            initializers, f"bert.embeddings.{kind}_embeddings.weight_quantized"
        )
    for name in initializers:
        match = ATTENTION.fullmatch(name)
        if match:
            layer = f"bert.encoder.layer.{match.group(1)}.attention.self"
            weight = dequantized(initializers, name)  # (in, 3 * out): x @ W
            bias = initializers[f"Attention_{match.group(1)}_qkv_bias"]
            for index, part in enumerate(("query", "key", "value")):
                columns = slice(index * weight.shape[1] // 3, (index + 1) * weight.shape[1] // 3)
                state[f"{layer}.{part}.weight"] = weight[:, columns].T.copy()
                state[f"{layer}.{part}.bias"] = bias[columns].copy()
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        match = MATMUL_NODE.search(node.name)
        if not match:
            raise SystemExit(f"{onnx_path}: no PyTorch module known for the quantized MatMul {node.name!r}")
        module = match.group(1).replace("/", ".")
        state[f"{module}.weight"] = dequantized(initializers, node.input[1]).T.copy()
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", type=Path, help="A packaged model directory (model.onnx, moodline.json).")
    parser.add_argument(
        "--config", required=True, help="The base model whose config.json the package was trained from."
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--check-mix", default="sentiment-3way", help="Data mix whose dev texts check the result.")
    parser.add_argument("--check-texts", type=int, default=4000, help="How many dev texts to compare on.")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    meta = load_metadata(args.package)
    labels = list(meta["labels"])
    config = AutoConfig.from_pretrained(
        resolve_local(args.config) or args.config,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = AutoModelForSequenceClassification.from_config(config)
    state = {name: torch.from_numpy(np.array(value)) for name, value in state_dict_of(args.package / ONNX_FILE).items()}
    expected = {k for k in model.state_dict() if not k.endswith("position_ids")}
    missing, unexpected = expected - state.keys(), state.keys() - expected
    if missing or unexpected:
        raise SystemExit(f"weights do not match the config: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    model.load_state_dict(state, strict=False)
    args.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output)
    shutil.copy(args.package / TOKENIZER_FILE, args.output / TOKENIZER_FILE)
    for name in ("tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        source = Path(resolve_local(args.config) or "") / name
        if source.is_file():
            shutil.copy(source, args.output / name)

    texts = [t for dev in DataMixture.load(args.check_mix).read_dev() for t in dev.texts]
    texts = texts[:: max(1, len(texts) // args.check_texts)][: args.check_texts]
    int8, _, _ = Engine.load(args.package, calibration=UNCALIBRATED).probabilities(texts)
    fp32, _, _ = Engine.load(args.output, backend="transformers", calibration=UNCALIBRATED).probabilities(texts)
    agreement = float((int8.argmax(1) == fp32.argmax(1)).mean())
    report = {
        "texts": len(texts),
        "agreement": round(agreement, 4),
        "mean_abs_prob_diff": float(abs(int8 - fp32).mean()),
    }
    (args.output / "dequantized_from.json").write_text(json.dumps({"package": str(args.package), **report}, indent=2))
    print(
        f"{args.output}: fp32 rebuilt from {args.package}; label agreement with int8 {agreement:.2%} on {len(texts)} dev texts"
    )
    return 0 if agreement >= MIN_AGREEMENT else 1


if __name__ == "__main__":
    sys.exit(main())
