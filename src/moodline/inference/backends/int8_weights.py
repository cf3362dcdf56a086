"""The same int8 answers on every CPU: a model's signed int8 weights served as unsigned ones.

moodline's int8 models multiply unsigned 8-bit activations by signed 8-bit weights (``MatMulInteger``
and ``QAttention`` with int8 weights). ONNX Runtime computes that product exactly with VNNI or AMX,
but on a CPU with plain AVX2 its kernel adds pairs of products into saturating 16-bit sums
(``vpmaddubsw``): large pairs are clipped, and the model's probabilities move by up to 0.14 for
some texts (the bundled SST-2 model on MELD dev, measured under QEMU emulating an AVX2-only CPU).
Labels rarely change, but figures measured on one CPU kind are not reproduced on the other.

Storing the weights as unsigned bytes with a zero point of 128 (``w + 128`` and ``zp + 128``) is the
same matrix exactly, ``(a - za)(w + 128 - (zw + 128)) = (a - za)(w - zw)``, and ONNX Runtime's
unsigned-by-unsigned kernel never saturates: with it an AVX2 CPU gives bit for bit the probabilities
of a VNNI one (tests/inference/test_int8_weights.py checks this under emulation). It is slower where
VNNI does the signed product natively (0.63x on an AMD EPYC with AVX-512 VNNI), so it is a choice:
``MOODLINE_INT8_WEIGHTS`` ``signed`` (the default: the fastest kernel on every CPU), ``unsigned``, or
``auto`` (unsigned where the CPU has AVX2 but neither VNNI nor AMX, so answers match other CPUs).

Rewriting needs the ``onnx`` package; it happens in memory when the model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from moodline.core.errors import ModelLoadError

__all__ = ["Int8Weights", "exact_kernels_available", "unsigned_weight_model", "use_unsigned_weights"]

Int8Weights = Literal["signed", "unsigned", "auto"]

# Where each int8 operator takes its weight and the weight's zero point (ONNX and com.microsoft specs).
WEIGHT_INPUTS = {"MatMulInteger": (1, 3), "QAttention": (1, 7)}
# CPU flags (Linux /proc/cpuinfo) whose int8 instructions accumulate signed-by-unsigned products exactly.
EXACT_INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
CPUINFO = Path("/proc/cpuinfo")


def _cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def exact_kernels_available(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU multiplies signed int8 weights exactly (VNNI or AMX); unknown counts as yes."""
    flags = _cpu_flags() if flags is None else flags
    return not flags or bool(flags & EXACT_INT8_FLAGS) or "avx2" not in flags


def use_unsigned_weights(choice: Int8Weights, flags: frozenset[str] | None = None) -> bool:
    if choice not in ("signed", "unsigned", "auto"):
        raise ValueError(f"int8 weights must be 'signed', 'unsigned' or 'auto', got {choice!r}")
    return choice == "unsigned" or (choice == "auto" and not exact_kernels_available(flags))


def unsigned_weight_model(model_path: Path) -> bytes | None:
    """The model at ``model_path`` with its signed int8 weights made unsigned, serialized; ``None``
    when it has none (an fp32 model, or one already unsigned)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ModelLoadError("unsigned int8 weights need the onnx package: pip install onnx") from exc
    model = onnx.load(str(model_path))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    rewritten: set[str] = set()

    def shift(name: str) -> None:
        tensor = initializers[name]
        shifted = numpy_helper.to_array(tensor).astype(np.int16) + 128
        tensor.CopyFrom(numpy_helper.from_array(shifted.astype(np.uint8), name))
        rewritten.add(name)

    for node in model.graph.node:
        if node.op_type not in WEIGHT_INPUTS:
            continue
        weight_at, zero_point_at = WEIGHT_INPUTS[node.op_type]
        weight = initializers.get(node.input[weight_at]) if weight_at < len(node.input) else None
        if weight is None or weight.data_type != onnx.TensorProto.INT8:
            if weight is None or weight.name not in rewritten:
                continue  # activations by activations, or already unsigned: nothing to do
        elif weight.name not in rewritten:
            shift(weight.name)
        zero_point = node.input[zero_point_at] if zero_point_at < len(node.input) else ""
        if zero_point:
            if zero_point not in rewritten:
                shift(zero_point)
            continue
        # No zero point means 0; the shifted weight needs 128 spelled out.
        name = f"{weight.name}_unsigned_zero_point"
        if name not in initializers:
            initializers[name] = numpy_helper.from_array(np.array(128, dtype=np.uint8), name)
            model.graph.initializer.append(initializers[name])
        inputs = [*node.input, *[""] * (zero_point_at + 1 - len(node.input))]
        inputs[zero_point_at] = name
        del node.input[:]
        node.input.extend(inputs)
    if not rewritten:
        return None
    serialized: bytes = model.SerializeToString()
    return serialized
