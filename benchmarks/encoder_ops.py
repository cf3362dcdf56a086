"""How many operations a transformer encoder performs per sentence, from its shape.

The benchmark divides each row's operation rate by the machine's measured matrix-multiply peak
(benchmarks/machine.py), so only the matrix products count: they are nearly all of the work, and the
rest (LayerNorm, softmax, GELU, embeddings lookups) is element-wise and has no comparable peak.

Example::

    shape = EncoderShape(layers=6, hidden=384, intermediate=1536)   # MiniLM-L6
    flops_per_sentence(shape, [(32, 26)])                           # one call: 32 rows of 26 tokens
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EncoderShape", "flops_per_sentence", "padded_tokens_per_sentence"]

ATTENTION_OPS = frozenset({"Attention", "QAttention"})
MATMUL_OPS = frozenset({"MatMul", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "FusedMatMul"})


@dataclass(frozen=True)
class EncoderShape:
    layers: int
    hidden: int
    intermediate: int

    def macs_per_sequence(self, tokens: int) -> int:
        """Multiply-accumulates of the encoder's matrix products for one sequence of ``tokens`` tokens.

        With s = tokens, h = hidden, i = intermediate, each layer computes:

        * Q, K and V projections: 3·s·h·h; attention output projection: s·h·h
        * attention scores Q·Kᵀ: s·s·h and scores·V: s·s·h (all heads together: heads x s·s·(h/heads))
        * feed-forward up (h -> i) and down (i -> h): 2·s·h·i

        so ``layers · (4·s·h² + 2·s²·h + 2·s·h·i)``; FLOPs (and int8 operations) are twice that.
        Padded positions count: the runtime computes them like real tokens. Left out: embeddings
        (lookups), pooler and classifier (one h x h and one h x labels product per sequence, under 1 %
        here), and element-wise work.

        >>> EncoderShape(layers=12, hidden=768, intermediate=3072).macs_per_sequence(128)  # BERT-base
        11173625856
        """
        s, h, i = tokens, self.hidden, self.intermediate
        return self.layers * (4 * s * h * h + 2 * s * s * h + 2 * s * h * i)

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> EncoderShape:
        """From a Hugging Face ``config.json`` (BERT-style names, or DistilBERT's n_layers/dim/hidden_dim)."""
        return cls(
            layers=int(config.get("num_hidden_layers", config.get("n_layers", 0))),
            hidden=int(config.get("hidden_size", config.get("dim", 0))),
            intermediate=int(config.get("intermediate_size", config.get("hidden_dim", 0))),
        )

    @classmethod
    def from_hf_dir(cls, directory: Path) -> EncoderShape:
        return cls.from_hf_config(json.loads((directory / "config.json").read_text()))

    @classmethod
    def from_onnx(cls, path: Path) -> EncoderShape:
        """Read the shape from an exported model's weights (moodline model directories keep no config.json).

        Layers: fused (Q)Attention nodes, or Softmax nodes in an unfused graph (one per layer). Hidden
        size: the rows of the attention weight, or the commonest inner dimension of the weight matrices
        (Q, K, V, output and feed-forward-up all have it). Intermediate size: the inner dimension of
        the feed-forward down-projection, the only matrix that maps something larger to the hidden size.
        """
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        dims = {t.name: tuple(t.dims) for t in graph.initializer}
        attention = [n for n in graph.node if n.op_type in ATTENTION_OPS]
        layers = len(attention) or sum(n.op_type == "Softmax" for n in graph.node)
        matrices = [
            dims[n.input[1]]
            for n in graph.node
            if n.op_type in MATMUL_OPS | ATTENTION_OPS and len(n.input) > 1 and len(dims.get(n.input[1], ())) == 2
        ]
        if attention and attention[0].input[1] in dims:
            hidden = dims[attention[0].input[1]][0]
        else:
            hidden = Counter(rows for rows, _ in matrices).most_common(1)[0][0] if matrices else 0
        intermediate = max((rows for rows, cols in matrices if cols == hidden and rows > hidden), default=0)
        if not (layers and hidden and intermediate):
            raise ValueError(
                f"{path}: cannot read the encoder shape (layers={layers}, hidden={hidden}, intermediate={intermediate})"
            )
        return cls(layers, hidden, intermediate)


def flops_per_sentence(shape: EncoderShape, calls: Sequence[tuple[int, int]]) -> float:
    """Mean operations (2 x multiply-accumulates) per sentence over model calls of ``(rows, padded tokens)``.

    Summed call by call, not from the mean length: the attention term grows with the square of it.
    """
    sentences = sum(rows for rows, _ in calls)
    return 2.0 * sum(rows * shape.macs_per_sequence(tokens) for rows, tokens in calls) / sentences


def padded_tokens_per_sentence(calls: Sequence[tuple[int, int]]) -> float:
    return sum(rows * tokens for rows, tokens in calls) / sum(rows for rows, _ in calls)
