"""How confident a model's answers read: the calibration temperature stored with it, by text length.

Logits are divided by a temperature before the softmax; labels never change, only how confident
they read. One temperature for every text cannot serve domains that disagree: the bundled model is
over-confident on six-word dialogue lines and under-confident on hundred-word reviews, so the one
value that fixes the first spoils the second. The temperature may therefore depend on the text's
length in tokens::

    T(n) = value * (n / REFERENCE_TOKENS) ** length_exponent

``length_exponent = 0`` is plain temperature scaling (Guo et al., 2017). A negative exponent gives
short texts a higher temperature (softer) and long texts a lower one (sharper). Both numbers are
fitted on dev data (:mod:`moodline.training.calibration`) and stored in the model's ``moodline.json``
as ``temperature`` and ``temperature_length_exponent``.

Example::

    Temperature(1.26, -0.08).per_text(np.array([6, 16, 120]))   # array([1.36, 1.26, 1.07])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError

__all__ = ["REFERENCE_TOKENS", "Temperature"]

# The length (tokens, with [CLS] and [SEP]) at which T(n) equals ``value``: a short sentence, so that
# ``value`` reads as "the temperature of a typical utterance".
REFERENCE_TOKENS = 16
# Beyond this the fit is describing a broken model, not a calibration (T would change 4x per 10x length).
MAX_LENGTH_EXPONENT = 0.6


@dataclass(frozen=True)
class Temperature:
    value: float = 1.0
    length_exponent: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise InvalidInputError(f"temperature must be positive, got {self.value}")
        if not (math.isfinite(self.length_exponent) and abs(self.length_exponent) <= MAX_LENGTH_EXPONENT):
            raise InvalidInputError(
                f"temperature length exponent must be within ±{MAX_LENGTH_EXPONENT}, got {self.length_exponent}"
            )

    @property
    def is_identity(self) -> bool:
        return self.value == 1.0 and self.length_exponent == 0.0

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Temperature:
        return cls(float(meta.get("temperature", 1.0)), float(meta.get("temperature_length_exponent", 0.0)))

    def per_text(self, lengths: np.ndarray) -> np.ndarray:
        """The temperature of each text, from its length in tokens."""
        if self.length_exponent == 0.0:
            return np.full(len(lengths), self.value, dtype=np.float64)
        ratio = np.maximum(np.asarray(lengths, dtype=np.float64), 1.0) / REFERENCE_TOKENS
        result: np.ndarray = self.value * ratio**self.length_exponent
        return result

    def scale(self, logits: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``logits`` (one row per text) divided by each text's temperature (``lengths``: in tokens,
        needed only when the temperature depends on length)."""
        if self.is_identity:
            return logits
        if self.length_exponent == 0.0 or lengths is None:
            if self.length_exponent != 0.0:
                raise ValueError("a length-dependent temperature needs the texts' lengths")
            scaled_by_one: np.ndarray = logits / np.asarray(self.value, dtype=logits.dtype)
            return scaled_by_one
        temperatures = self.per_text(lengths).astype(logits.dtype, copy=False)
        scaled: np.ndarray = logits / temperatures[:, None]
        return scaled
