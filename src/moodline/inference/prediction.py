"""The result type every scorer returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """One text's sentiment.

    ``scores`` holds every label's probability (like the Hugging Face pipeline with ``top_k=None``);
    ``label``/``score`` are the top entry. ``truncated`` says the model saw only the first
    ``max_length`` tokens; ``chunks`` > 1 says the text was scored window by window and aggregated.
    """

    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    truncated: bool = False
    chunks: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
