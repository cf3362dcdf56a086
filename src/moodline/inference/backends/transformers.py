"""PyTorch/transformers backend: any Hugging Face sequence-classification model, local or from a hub."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["TransformersBackend"]


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: Any, threads: int | None = None) -> None:
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)
        self.threads = torch.get_num_threads()
        self.model = model.eval()
        self._torch = torch

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        logits: np.ndarray = out.logits.float().numpy()
        return logits
