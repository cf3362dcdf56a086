"""Convert a Hugging Face sequence-classification model into moodline's ONNX model format.

Steps: export the PyTorch graph (eager attention, so ONNX Runtime can fuse it), fuse with the ORT
transformer optimizer, optionally quantize weights to signed int8 per channel (the classifier head
stays fp32: it is tiny and quantizing it costs accuracy for no speed), then check that the exported
model agrees with the source on probe sentences. Nothing is published unless the check passes; the
output directory appears complete or not at all.

Example::

    from moodline.training.export import export_model
    report = export_model("my-finetuned-model", "my-model-onnx", quantize="int8")
    report["agreement"]      # share of probe texts with the same label as the source
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from moodline.core.durable import staged_directory
from moodline.core.errors import InvalidInputError, ModelLoadError
from moodline.inference.engine import Engine
from moodline.inference.model_dir import METADATA_FILE, ONNX_FILE, TOKENIZER_FILE, has_onnx_model
from moodline.inference.sources import hub_load, load_hf_tokenizer, require_torch, resolve_local
from moodline.inference.tokenization import model_max_length

__all__ = ["PROBE_TEXTS", "ExportCheckError", "export_model"]

Quantization = Literal["int8"] | None

# Varied probe sentences: short and long, clear and mixed, so agreement is tested where it is fragile.
PROBE_TEXTS: tuple[str, ...] = (
    "It is worth it",
    "It is a waste of time and money",
    "I love this.",
    "Terrible.",
    "The service was slow but the food was excellent.",
    "Not bad at all, honestly better than I expected.",
    "I wouldn't recommend it to anyone.",
    "The plot is predictable and the acting is wooden.",
    "A charming, funny and surprisingly moving film.",
    "The meeting went fine, nothing special.",
    "We missed the deadline again and the client is furious.",
    "Thanks so much for your help, this solved everything!",
    "It's okay I guess.",
    "The update broke my workflow and support never answered.",
    "Absolutely brilliant performance from the whole cast.",
    "I have mixed feelings about the new design.",
    "This is the worst purchase I've ever made.",
    "Delivery was quick and the packaging was neat.",
    "Could have been better, could have been worse.",
    "The first half drags, but the ending is worth the wait.",
    "Honestly, I don't know what to think.",
    "They refunded me without any questions. Great experience.",
    "The battery dies after two hours, which is unacceptable.",
    "What a delightful surprise!",
    "Boring, long and pointless.",
    "The team did an outstanding job on the release.",
    "I'm disappointed that the feature was removed.",
    "Nothing works and nobody cares.",
    "Fine.",
    "It exceeded every expectation we had going in, from the onboarding to the final report, and the "
    "people we worked with were responsive, thoughtful and kind throughout the whole project.",
    "The hotel looked nothing like the pictures: the room was dirty, the staff were rude, the wifi did "
    "not work, breakfast was cold and we were charged twice for parking.",
    "i guess it was fine but i wouldnt go back",
)


UNDECIDED_MARGIN = 0.1


class ExportCheckError(InvalidInputError):
    """The exported model disagrees with its source more than allowed."""

    error_type = "export_check_failed"


def export_model(
    source: str | Path,
    output: str | Path,
    *,
    quantize: Quantization = None,
    name: str | None = None,
    check_texts: Sequence[str] | None = None,
    min_agreement: float | None = None,
    max_length: int | None = None,
    force: bool = False,
    opset: int = 17,
    keep_fp32: Sequence[str] = (),
) -> dict[str, Any]:
    r"""Export ``source`` (directory or hub id) to ``output``; returns the agreement report.

    ``keep_fp32``: regular expressions on ONNX node names to leave unquantized with int8, e.g.
    ``r"layer\.\d+/output/dense"`` for the feed-forward down-projections, whose GELU inputs have the
    widest activation range. The pooler and classifier always stay fp32.
    """
    require_torch()
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification

    if quantize not in (None, "int8"):
        raise InvalidInputError(f"quantize must be 'int8' or omitted, got {quantize!r}")
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not force:
        raise InvalidInputError(f"{output} exists and is not empty; pass --force to replace it")
    local = resolve_local(source)
    if local is not None and has_onnx_model(local):
        raise InvalidInputError(f"{local} is already a moodline ONNX model")
    origin = str(local or source)
    hf_tokenizer = load_hf_tokenizer(origin)
    model = hub_load(AutoModelForSequenceClassification, origin, attn_implementation="eager").eval()
    limit = max_length or (model_max_length(local) if local else min(int(model.config.max_position_embeddings), 512))
    labels = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]

    with staged_directory(output) as work:
        raw = work / "raw.onnx"
        sample = hf_tokenizer(
            ["a short sample", "and a somewhat longer sample sentence"], padding=True, return_tensors="pt"
        )
        with warnings.catch_warnings():
            # The tracer warns about shape-dependent Python branches in transformers' masking code;
            # they are constant for inference inputs (mask length == sequence length), and the
            # agreement check below verifies the exported graph on texts of many lengths.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (sample["input_ids"], sample["attention_mask"]),
                str(raw),
                dynamo=False,
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch"},
                },
                opset_version=opset,
            )
        fused = _fuse(raw, work / "fused.onnx", model.config)
        final = work / ONNX_FILE
        if quantize == "int8":
            _quantize_int8(fused, final, keep_fp32)
        else:
            shutil.copyfile(fused, final)
        for leftover in (raw, fused):
            leftover.unlink(missing_ok=True)
        for extra in work.glob("*.data"):
            extra.unlink()

        tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        tokenizer.no_padding()
        tokenizer.no_truncation()
        tokenizer.save(str(work / TOKENIZER_FILE))
        metadata: dict[str, Any] = {
            "format": 1,
            "name": name or output.name,
            "version": hashlib.sha256(final.read_bytes()).hexdigest()[:12],
            "labels": labels,
            "max_length": limit,
            "quantization": quantize,
            "kept_fp32": list(keep_fp32) if quantize else [],
            "source": origin,
            "model_type": model.config.model_type,
            "opset": opset,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (work / METADATA_FILE).write_text(json.dumps(metadata, indent=2))

        report = check_agreement(model, hf_tokenizer, Engine.load(work, backend="onnx"), check_texts or PROBE_TEXTS)
        threshold = min_agreement if min_agreement is not None else (0.95 if quantize else 1.0)
        report["min_agreement"] = threshold
        if report["agreement"] < threshold:
            raise ExportCheckError(
                f"exported model agrees with the source on {report['agreement']:.1%} of {report['decided_texts']} "
                f"probe texts (required {threshold:.0%}); nothing was written to {output}"
            )
        metadata["export_check"] = report
        (work / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return report


def _fuse(raw: Path, target: Path, config: Any) -> Path:
    """Fuse attention/LayerNorm/GELU with the ORT transformer optimizer where it knows the model type."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model_type = {
        "bert": "bert",
        "distilbert": "bert",
        "roberta": "bert",
        "xlm-roberta": "bert",
        "electra": "bert",
        "deberta-v2": "bert",
    }.get(config.model_type)
    if model_type is None:
        return raw
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", 0)
    options = FusionOptions(model_type)
    # A fused EmbedLayerNormalization keeps the word-embedding table in fp32 (47 MB for BERT's vocab);
    # unfused, its Gather can be quantized to int8 like the rest.
    options.enable_embed_layer_norm = False
    # Add + LayerNormalization stays unfused: ONNX Runtime's SkipLayerNormalization CPU kernel is the
    # slower one (see OnnxBackend, which also keeps the runtime from fusing it back).
    options.enable_skip_layer_norm = False
    optimized = optimize_model(
        str(raw), model_type=model_type, num_heads=heads, hidden_size=hidden, opt_level=1, optimization_options=options
    )
    optimized.save_model_to_file(str(target))
    return target


HEAD_PATTERN = r"(?i)classifier|pooler"


def _quantize_int8(source: Path, target: Path, keep_fp32: Sequence[str] = ()) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    # The head (pooler/pre-classifier/classifier) is <1% of the compute; fp32 there keeps calibration.
    try:
        patterns = [re.compile(p) for p in (HEAD_PATTERN, *keep_fp32)]
    except re.error as exc:
        raise InvalidInputError(f"--keep-fp32: invalid regular expression ({exc})") from exc
    head = [n.name for n in graph.node if any(p.search(n.name) for p in patterns)]
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=head,
        op_types_to_quantize=["MatMul", "Attention", "Gather"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )


def check_agreement(model: Any, hf_tokenizer: Any, engine: Engine, texts: Sequence[str]) -> dict[str, Any]:
    """Compare source (PyTorch) and exported probabilities text by text."""
    import torch

    texts = list(texts)
    if not texts:
        raise InvalidInputError("no texts to check the export with")
    with torch.inference_mode():
        source_probs = []
        for start in range(0, len(texts), 32):
            batch = hf_tokenizer(
                texts[start : start + 32],
                padding=True,
                truncation=True,
                max_length=engine.info.max_length,
                return_tensors="pt",
            )
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            source_probs.append(torch.softmax(logits.float(), -1).numpy())
    expected = np.concatenate(source_probs)
    got, _, _ = engine.probabilities(texts)
    if expected.shape != got.shape:
        raise ModelLoadError(f"exported model returns {got.shape[1]} labels, source {expected.shape[1]}")
    same = expected.argmax(1) == got.argmax(1)
    # Texts the source itself barely decides (top two labels within 0.1) may flip under int8 noise
    # without meaning anything; agreement is judged on the decided ones and reported for all.
    ordered = np.sort(expected, axis=1)
    decided = (ordered[:, -1] - ordered[:, -2]) >= UNDECIDED_MARGIN
    return {
        "texts": len(texts),
        "decided_texts": int(decided.sum()),
        "agreement": float(same[decided].mean()) if decided.any() else 1.0,
        "agreement_all": float(same.mean()),
        "max_abs_prob_diff": float(np.abs(expected - got).max()),
        "mean_abs_prob_diff": float(np.abs(expected - got).mean()),
    }
