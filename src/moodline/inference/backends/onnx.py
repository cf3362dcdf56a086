"""ONNX Runtime backend: the default for serving (no torch needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from moodline.core.errors import ModelLoadError
from moodline.inference.backends.int8_weights import unsigned_weight_model

__all__ = ["DISABLED_OPTIMIZERS", "OnnxBackend"]

# ONNX Runtime's fused SkipLayerNormalization CPU kernel takes ~20% of a MiniLM forward pass on this
# class of CPU; plain Add + LayerNormalization is far cheaper: the bundled model scores SST-2 dev at
# ~880 sentences/s instead of ~710 with 2 threads (benchmarks/engine.py), with the same predictions.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


class OnnxBackend:
    name = "onnxruntime"

    def __init__(
        self, model_path: str | Path, threads: int | None = None, spinning: bool = True, unsigned_weights: bool = False
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # One request batch at a time per session: inter-op parallelism only adds contention.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Within a call the pool's threads always spin between operators: a sleeping thread is woken
        # for each of a model's hundred-odd parallel sections, which costs a one-sentence call on two
        # threads all the second thread saves (2.7 ms against 1.9 spinning; benchmarks/overhead.py).
        # ``spinning`` decides what they do between calls: spin on, so the next batch starts sooner
        # (batch scoring), or sleep as soon as the call returns, leaving the cores to the event loop
        # and the other workers (a server).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "0" if spinning else "1")
        # Exact int8 products on every CPU (see int8_weights); None: the model has no signed int8 weights.
        model: str | bytes = str(model_path)
        if unsigned_weights:
            model = unsigned_weight_model(Path(model_path)) or model
        self.unsigned_weights = isinstance(model, bytes)
        try:
            self.session = ort.InferenceSession(
                model, options, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelLoadError(f"{model_path}: not a loadable ONNX model ({exc})") from exc
        self.threads = options.intra_op_num_threads
        self._inputs = {i.name for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing:
            raise ModelLoadError(f"{model_path}: ONNX model lacks inputs {sorted(missing)}")

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (out,) = self.session.run(["logits"], feed)
        return np.asarray(out, dtype=np.float32)
