"""Inference backends: something that turns padded token ids into logits.

A backend knows nothing about text; :class:`moodline.inference.engine.Engine` does tokenization, bucketing and
post-processing for all of them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Backend"]


class Backend(Protocol):
    name: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Return ``(batch, num_labels)`` float32 logits."""
        ...
