"""How confident a model's answers read: the calibration temperature stored with it, by text length
and by how decided the model is.

Logits are divided by a temperature before the softmax; labels never change, only how confident
they read. One temperature for every text cannot serve domains that disagree: the bundled model is
over-confident on six-word dialogue lines and under-confident on hundred-word reviews, so the one
value that fixes the first spoils the second. The temperature may therefore depend on the text's
length in tokens, and on the margin between its two highest logits::

    T(n, m) = value * (n / REFERENCE_TOKENS) ** length_exponent * (m / REFERENCE_MARGIN) ** margin_exponent

``length_exponent = margin_exponent = 0`` is plain temperature scaling (Guo et al., 2017). A negative
length exponent gives short texts a higher temperature (softer) and long texts a lower one (sharper).
The margin term is for domains of the same lengths that disagree: MELD's dialogue lines are
over-confident at middling margins while DailyDialog's clear-cut neutral answers are under-confident
at large ones; a small negative margin exponent softens the first and sharpens the second. Since the
scaled margin ``m / T(n, m)`` still grows with ``m`` (the exponent stays well above -1), a more decided
answer still reads as more confident, and the argmax never changes.

A model can also be over-confident in one answer and under-confident in another, whatever the text:
a model that reads calm statements as polar is too sure when it answers "positive" and not sure enough
when it answers "neutral". Optional label factors multiply the temperature by one number per label,
the one the model answers (its argmax)::

    T(n, m, label) = T(n, m) * label_factors[argmax]

Each text is still divided by one positive number, so its label never changes. The numbers are fitted
on dev data (:mod:`moodline.training.calibration`) and stored in the model's ``moodline.json`` as
``temperature``, ``temperature_length_exponent``, ``temperature_margin_exponent`` and
``temperature_label_factors`` (one per label, in the order of ``labels``).

Example::

    Temperature(1.26, -0.08).per_text(np.array([6, 16, 120]))   # array([1.36, 1.26, 1.07])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodline.core.errors import InvalidInputError

__all__ = ["REFERENCE_MARGIN", "REFERENCE_TOKENS", "UNCALIBRATED", "Temperature"]

# The length (tokens, with [CLS] and [SEP]) at which T(n) equals ``value``: a short sentence, so that
# ``value`` reads as "the temperature of a typical utterance".
REFERENCE_TOKENS = 16
# Beyond this the fit is describing a broken model, not a calibration (T would change 4x per 10x length).
MAX_LENGTH_EXPONENT = 0.6
# The logit margin (top minus runner-up) at which the margin term is 1: a fairly decided answer.
REFERENCE_MARGIN = 3.0
# Within this the scaled margin m / T keeps growing with m (so confidence keeps its order) by a wide berth.
MAX_MARGIN_EXPONENT = 0.5
# A margin of 0 (a tie) would send T to 0 or infinity; ties are scored as this margin.
MIN_MARGIN = 1e-3
# Label factors beyond 4x apart from the common value describe a broken model, not a calibration.
MAX_LABEL_FACTOR = 4.0


@dataclass(frozen=True)
class Temperature:
    value: float = 1.0
    length_exponent: float = 0.0
    margin_exponent: float = 0.0
    # One factor per label (the model's label order); empty: the same temperature whatever the answer.
    label_factors: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise InvalidInputError(f"temperature must be positive, got {self.value}")
        if not (math.isfinite(self.length_exponent) and abs(self.length_exponent) <= MAX_LENGTH_EXPONENT):
            raise InvalidInputError(
                f"temperature length exponent must be within ±{MAX_LENGTH_EXPONENT}, got {self.length_exponent}"
            )
        if not (math.isfinite(self.margin_exponent) and abs(self.margin_exponent) <= MAX_MARGIN_EXPONENT):
            raise InvalidInputError(
                f"temperature margin exponent must be within ±{MAX_MARGIN_EXPONENT}, got {self.margin_exponent}"
            )
        for factor in self.label_factors:
            if not (math.isfinite(factor) and 1 / MAX_LABEL_FACTOR <= factor <= MAX_LABEL_FACTOR):
                raise InvalidInputError(
                    f"temperature label factors must be within 1/{MAX_LABEL_FACTOR:g}..{MAX_LABEL_FACTOR:g}, "
                    f"got {list(self.label_factors)}"
                )

    @property
    def is_identity(self) -> bool:
        return self.value == 1.0 and self.is_uniform

    @property
    def is_uniform(self) -> bool:
        """Whether every text gets the same temperature (``value``)."""
        return self.length_exponent == 0.0 and self.margin_exponent == 0.0 and not self.label_factors

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Temperature:
        return cls(
            float(meta.get("temperature", 1.0)),
            float(meta.get("temperature_length_exponent", 0.0)),
            float(meta.get("temperature_margin_exponent", 0.0)),
            tuple(float(f) for f in meta.get("temperature_label_factors") or ()),
        )

    def formula(self, labels: Sequence[str] = ()) -> str:
        """How a text's temperature is made, for a model card or a terminal (``labels``: the model's,
        to name the label factors)."""
        text = f"{self.value:.3f}"
        if self.length_exponent:
            text += f" x (tokens / {REFERENCE_TOKENS}) ^ {self.length_exponent:+.2f}"
        if self.margin_exponent:
            text += f" x (logit margin / {REFERENCE_MARGIN:g}) ^ {self.margin_exponent:+.2f}"
        if self.label_factors:
            count = len(self.label_factors)
            names = list(labels) if len(labels) == count else [f"label {i}" for i in range(count)]
            factors = ", ".join(f"{name} {factor:.2f}" for name, factor in zip(names, self.label_factors, strict=True))
            text += f" x (by the label answered: {factors})"
        return text

    def per_text(self, lengths: np.ndarray | None, logits: np.ndarray | None = None) -> np.ndarray:
        """The temperature of each text, from its length in tokens and (with a margin exponent or label
        factors) its logits."""
        rows = len(lengths) if lengths is not None else len(logits) if logits is not None else 0
        result: np.ndarray = np.full(rows, self.value, dtype=np.float64)
        if self.length_exponent != 0.0:
            if lengths is None:
                raise ValueError("a length-dependent temperature needs the texts' lengths")
            ratio = np.maximum(np.asarray(lengths, dtype=np.float64), 1.0) / REFERENCE_TOKENS
            result *= ratio**self.length_exponent
        if self.margin_exponent != 0.0:
            if logits is None:
                raise ValueError("a margin-dependent temperature needs the logits")
            top_two = np.sort(np.asarray(logits, dtype=np.float64), axis=1)[:, -2:]
            margin = np.maximum(top_two[:, 1] - top_two[:, 0], MIN_MARGIN) / REFERENCE_MARGIN
            result *= margin**self.margin_exponent
        if self.label_factors:
            if logits is None:
                raise ValueError("label-dependent temperatures need the logits")
            logits = np.asarray(logits)
            if logits.shape[1] != len(self.label_factors):
                raise InvalidInputError(
                    f"{len(self.label_factors)} temperature label factors for a model of {logits.shape[1]} labels"
                )
            result *= np.asarray(self.label_factors, dtype=np.float64)[logits.argmax(axis=1)]
        return result

    def scale(self, logits: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``logits`` (one row per text) divided by each text's temperature (``lengths``: in tokens,
        needed only when the temperature depends on length)."""
        if self.is_identity:
            return logits
        if self.is_uniform:
            scaled_by_one: np.ndarray = logits / np.asarray(self.value, dtype=logits.dtype)
            return scaled_by_one
        temperatures = self.per_text(lengths, logits).astype(logits.dtype, copy=False)
        scaled: np.ndarray = logits / temperatures[:, None]
        return scaled


# Raw logits: what a calibration is fitted on, and a model without one.
UNCALIBRATED = Temperature()
