"""Fast tokenization with per-batch padding, truncation flags and overflow chunks.

Wraps a Hugging Face ``tokenizers.Tokenizer``. Tokenizers saved by some tools (the MiniLM-L6 package
among them) pad every text to a fixed 128 tokens; scoring short texts that way costs ~5x the compute,
so padding is always switched off here and applied per batch by :func:`pad_batch`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from moodline.core.errors import ModelLoadError
from moodline.inference.model_dir import HF_CONFIG_FILE, TOKENIZER_FILE

__all__ = ["Encoded", "TextTokenizer", "dropping_final_full_stop", "pad_batch"]

# A text's one final full stop ("Thanks, that fixed it." -> "Thanks, that fixed it"); an ellipsis stays.
# Speech-to-text punctuators and human transcribers put it on every line, yet in dialogue training data
# a line ending in a full stop is mostly neutral (DailyDialog 83 %, MELD 62 %), so a model learns the
# mark instead of the words. Put into a model's tokenizer.json, it acts wherever the tokenizer is used.
FINAL_FULL_STOP = {"type": "Replace", "pattern": {"Regex": r"(?<![.\s])\s*\.\s*$"}, "content": ""}


@dataclass
class Encoded:
    """Token ids of one text (first window) plus any further windows cut off by truncation."""

    ids: list[int]
    overflow: list[list[int]]

    @property
    def truncated(self) -> bool:
        return bool(self.overflow)


class TextTokenizer:
    """Turn texts into token-id lists with the model's special tokens and limits.

    Example::

        tok = TextTokenizer.from_dir("my-model", max_length=128)
        [enc] = tok.encode(["It is worth it"])
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int, stride: int = 0) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        self.max_length = max_length
        self.stride = stride
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length, stride=stride)
        self._tokenizer = tokenizer
        self.pad_id = _pad_id(tokenizer)

    @classmethod
    def from_dir(cls, directory: str | Path, max_length: int | None = None, stride: int = 0) -> TextTokenizer:
        """Load ``tokenizer.json`` from a model directory; ``max_length`` defaults to the model's."""
        directory = Path(directory)
        path = directory / TOKENIZER_FILE
        if not path.is_file():
            raise ModelLoadError(f"{directory}: no {TOKENIZER_FILE} (a fast tokenizer is required)")
        tokenizer = Tokenizer.from_file(str(path))
        return cls(tokenizer, max_length or model_max_length(directory), stride)

    def token_id(self, token: str) -> int | None:
        """The vocabulary id of ``token``, or None when the vocabulary lacks it."""
        found = self._tokenizer.token_to_id(token)
        return None if found is None else int(found)

    def encode(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[Encoded]:
        """Token ids of ``texts``; with ``contexts`` (one per text, "" for none) each non-empty context goes
        first as its own segment (``[CLS] context [SEP] text [SEP]``), the longer segment cut first."""
        inputs: list[Any] = list(texts)
        if contexts is not None:
            inputs = [(c, t) if c else t for c, t in zip(contexts, texts, strict=True)]
        encodings = self._tokenizer.encode_batch(inputs)
        return [Encoded(e.ids, [o.ids for o in e.overflowing]) for e in encodings]

    def save(self, path: str | Path) -> None:
        """Save as ``tokenizer.json`` with padding off, so any loader pads per batch."""
        self._tokenizer.save(str(path))


def dropping_final_full_stop(tokenizer: dict[str, Any]) -> dict[str, Any]:
    """A ``tokenizer.json`` (parsed) whose normalizer first drops the text's final full stop.

    Idempotent: a tokenizer that already drops it is returned as it is.
    """
    normalizer = tokenizer.get("normalizer")
    steps = (
        [] if normalizer is None else normalizer["normalizers"] if normalizer["type"] == "Sequence" else [normalizer]
    )
    if FINAL_FULL_STOP in steps:
        return tokenizer
    return {**tokenizer, "normalizer": {"type": "Sequence", "normalizers": [FINAL_FULL_STOP, *steps]}}


def _pad_id(tokenizer: Tokenizer) -> int:
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0


def model_max_length(directory: Path) -> int:
    """The longest input the model accepts: ``max_position_embeddings`` less any offset, capped at 512."""
    limits = [512]
    config = directory / HF_CONFIG_FILE
    if config.is_file():
        data = json.loads(config.read_text())
        positions = data.get("max_position_embeddings")
        if isinstance(positions, int):
            # RoBERTa-style models reserve padding_idx + 1 positions.
            offset = 2 if data.get("model_type") in {"roberta", "xlm-roberta", "camembert"} else 0
            limits.append(positions - offset)
    tok_config = directory / "tokenizer_config.json"
    if tok_config.is_file():
        value = json.loads(tok_config.read_text()).get("model_max_length")
        if isinstance(value, int) and value > 0:
            limits.append(value)
    return min(limits)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the longest sequence; return ``(input_ids, attention_mask)`` as int64."""
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask
