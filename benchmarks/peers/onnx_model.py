"""The bundled model in plain ONNX Runtime, for the peer servers (they run without moodline installed).

It reads what moodline reads from a model directory (``model.onnx``, ``tokenizer.json``, ``moodline.json``)
and scores the same way moodline's engine does: the model's maximum length, no fixed padding (each
batch padded to its longest text), softmax over the labels. It leaves out what is moodline's own
(length bucketing, temperature calibration, long-text chunking); the session options are moodline's,
so every server runs the same kernels and only the serving around them differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

# moodline's ONNX Runtime setting (inference/backends/onnx.py): the same kernels for every server.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


class SentimentModel:
    """``predict(texts)`` -> ``[{"label": ..., "score": ...}, ...]`` in input order."""

    def __init__(self, directory: str | Path, threads: int) -> None:
        directory = Path(directory)
        meta = json.loads((directory / "moodline.json").read_text())
        self.labels: list[str] = list(meta["labels"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        self.session = ort.InferenceSession(
            str(directory / "model.onnx"),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=DISABLED_OPTIMIZERS,
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        (logits,) = self.session.run(["logits"], feed)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = exp / exp.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [{"label": self.labels[int(b)], "score": float(p[b])} for b, p in zip(best, probabilities, strict=True)]
