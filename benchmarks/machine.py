"""What the benchmark machine can do: its CPU's matrix-multiply features and its measured peak.

Absolute sentences/s mean little without the machine: the same model runs several times faster where
ONNX Runtime's int8 GEMM has VNNI or AMX than where it has plain AVX2. So the engine benchmark prints
the CPU, the flags that select ONNX Runtime's kernels, and the fp32 and int8 matrix-multiply rates
this machine reaches through ONNX Runtime itself, measured in the same run.

Example::

    cpu = read_cpu()
    cpu.model, cpu.has("avx512_vnni")
    peak = measure_peak(threads=2, seconds=0.2)
    peak.fp32_gops, peak.int8_gops
"""

from __future__ import annotations

import contextlib
import ctypes
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FEATURES",
    "CpuInfo",
    "Int8Types",
    "Peak",
    "amx_permitted",
    "int8_gemm_kernel",
    "int8_matmul_types",
    "measure_peak",
    "parse_cpuinfo",
    "read_cpu",
]

CPUINFO = Path("/proc/cpuinfo")

# (Linux /proc/cpuinfo flag, display name): the features that decide which fp32 and int8 GEMM kernels
# ONNX Runtime's MLAS library picks (onnxruntime/core/mlas/lib/platform.cpp).
FEATURES: tuple[tuple[str, str], ...] = (
    ("avx2", "AVX2"),
    ("avx512f", "AVX-512"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512_bf16", "AVX-512 BF16"),
    ("amx_int8", "AMX-INT8"),
    ("amx_bf16", "AMX-BF16"),
)

# Other spellings of the same flags (older kernels, other tools, macOS sysctl), mapped to Linux's.
FLAG_ALIASES = {
    "avx512vnni": "avx512_vnni",
    "avxvnni": "avx_vnni",
    "avx512bf16": "avx512_bf16",
    "amxint8": "amx_int8",
    "amxbf16": "amx_bf16",
    "amxtile": "amx_tile",
    "avxvnniint8": "avx_vnni_int8",
}

# The fixed state bit Linux must grant a process before it may touch AMX tile data (arch_prctl).
SYS_ARCH_PRCTL = 158  # x86-64 syscall number
ARCH_GET_XCOMP_PERM = 0x1022
XFEATURE_XTILEDATA = 18


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    def has(self, flag: str) -> bool:
        return normalize_flag(flag) in self.flags

    def features(self) -> dict[str, bool]:
        """Display name -> present, for every flag in :data:`FEATURES` (absent ones too: they explain a slow row)."""
        return {name: self.has(flag) for flag, name in FEATURES}


def normalize_flag(flag: str) -> str:
    flag = flag.strip().lower()
    return FLAG_ALIASES.get(flag, flag)


def parse_cpuinfo(text: str) -> CpuInfo:
    """Read the first processor's model name and flags from /proc/cpuinfo text.

    >>> parse_cpuinfo("model name : Xeon\\nflags : fpu avx2 avx512vnni\\n").flags == {"fpu", "avx2", "avx512_vnni"}
    True
    """
    model = ""
    flags: frozenset[str] = frozenset()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        # x86 lists "flags"; ARM lists "Features". Every processor repeats them: the first one suffices.
        elif key in ("flags", "features") and not flags:
            flags = frozenset(normalize_flag(f) for f in value.split())
    return CpuInfo(model, flags)


def read_cpu(path: Path = CPUINFO) -> CpuInfo:
    text = ""
    with contextlib.suppress(OSError):
        text = path.read_text()
    cpu = parse_cpuinfo(text)
    if cpu.model:
        return cpu
    # No /proc (macOS, Windows) or no model line (many ARM kernels): name what platform knows.
    return CpuInfo(platform.processor() or platform.machine(), cpu.flags)


@dataclass(frozen=True)
class Int8Types:
    """Signedness of an int8 matrix product's activations (A) and weights (B)."""

    activations: str = "uint8"
    weights: str = "int8"

    @property
    def label(self) -> str:
        short = {"uint8": "u8", "int8": "s8"}
        return f"{short.get(self.activations, self.activations)} x {short.get(self.weights, self.weights)}"


INT8_MATMUL_OPS = ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul", "QLinearMatMul", "MatMulIntegerToFloat")


def int8_matmul_types(model_path: Path) -> Int8Types | None:
    """The activation and weight types of ``model_path``'s first int8 matrix product, or None if it has none.

    DynamicQuantizeLinear (what moodline's dynamic int8 export puts before every MatMulInteger) only
    produces uint8, so its outputs are uint8 without shape inference.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    types: dict[str, int] = {t.name: t.data_type for t in graph.initializer}
    for value in (*graph.input, *graph.value_info):
        types.setdefault(value.name, value.type.tensor_type.elem_type)
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            types[node.output[0]] = onnx.TensorProto.UINT8
    for node in graph.node:
        if node.op_type not in INT8_MATMUL_OPS:
            continue
        # QLinearMatMul interleaves scales and zero points: (a, a_scale, a_zp, b, ...).
        a, b = (node.input[0], node.input[3]) if node.op_type == "QLinearMatMul" else (node.input[0], node.input[1])
        # Unknown types (a graph without value_info) default to dynamic quantization's u8 x s8.
        activations = onnx.helper.tensor_dtype_to_np_dtype(types.get(a, onnx.TensorProto.UINT8))
        weights = onnx.helper.tensor_dtype_to_np_dtype(types.get(b, onnx.TensorProto.INT8))
        return Int8Types(activations.name, weights.name)
    return None


def int8_gemm_kernel(cpu: CpuInfo, types: Int8Types, amx: bool | None = None) -> str:
    """The x86 int8 GEMM kernel ONNX Runtime's MLAS picks for ``types`` on ``cpu``, by its flags.

    Follows MLAS's platform selection (onnxruntime/core/mlas/lib/platform.cpp): u8 x s8 is the one
    combination with VNNI and AMX kernels; without VNNI it multiplies u8 x s8 byte pairs with
    vpmaddubsw, whose int16 pair sums can saturate (what ``reduce_range`` avoids); u8 x u8 widens to
    16 bits instead. ``amx``: whether Linux granted this process AMX state (:func:`amx_permitted`);
    MLAS uses AMX only if it did.
    """
    avx512_core = all(cpu.has(f) for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))
    if types.activations == "uint8" and types.weights == "int8":
        if cpu.has("amx_tile") and cpu.has("amx_int8") and amx is not False:
            return "AMX-INT8" if amx else "AMX-INT8 (if the OS grants AMX state)"
        if avx512_core and cpu.has("avx512_vnni"):
            return "AVX-512 VNNI (vpdpbusd)"
        if avx512_core:
            return "AVX-512 without VNNI (vpmaddubsw, int16 pair sums can saturate)"
        if cpu.has("avx_vnni"):
            return "AVX-VNNI (256-bit vpdpbusd)"
        if cpu.has("avx2"):
            return "AVX2 without VNNI (vpmaddubsw, int16 pair sums can saturate)"
        return "SSE (no AVX2)"
    if cpu.has("avx_vnni_int8"):
        return "AVX-VNNI-INT8"
    if types.activations == "uint8":
        if avx512_core:
            return "AVX-512 (u8 x u8 widened to 16 bits, vpmaddwd)"
        return "AVX2 (u8 x u8 widened to 16 bits, vpmaddwd)" if cpu.has("avx2") else "SSE (no AVX2)"
    return "generic C++ kernel (MLAS has no x86 SIMD kernel for signed activations without AVX-VNNI-INT8)"


def amx_permitted() -> bool | None:
    """Whether Linux lets this process use AMX tile data; None where that cannot be asked (not Linux x86-64).

    MLAS asks for the permission when ONNX Runtime first runs a kernel and falls back to AVX-512 when
    refused (a kernel before 5.16, a seccomp filter, some hypervisors), so call this after a session ran.
    """
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    mask = ctypes.c_uint64(0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_PERM, ctypes.byref(mask)) != 0:
        return None
    return bool(mask.value >> XFEATURE_XTILEDATA & 1)


@dataclass(frozen=True)
class Peak:
    """Best rates of one large matrix product through ONNX Runtime, in 10^9 operations (multiply or add) per second."""

    fp32_gops: float
    int8_gops: float
    int8_types: Int8Types
    size: int
    threads: int
    amx_permitted: bool | None

    def for_precision(self, precision: str) -> float:
        return self.int8_gops if precision == "int8" else self.fp32_gops

    def to_dict(self) -> dict[str, Any]:
        return {
            "fp32_gflops": self.fp32_gops,
            "int8_gops": self.int8_gops,
            "int8_activations": self.int8_types.activations,
            "int8_weights": self.int8_types.weights,
            "matrix_size": self.size,
            "threads": self.threads,
            "amx_permitted": self.amx_permitted,
        }


def session_options(threads: int) -> Any:
    """The ONNX Runtime settings moodline's OnnxBackend serves with, so the peak is the engine's own ceiling."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return options


def matmul_model(size: int, types: Int8Types | None) -> bytes:
    """A one-node ONNX model: ``A (size x size) @ B (size x size)`` with B a constant, as model weights are.

    ``types=None`` builds an fp32 MatMul; otherwise a MatMulInteger shaped like the ones moodline's
    int8 export runs: a runtime activation zero point and a per-column weight zero point.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if types is None:
        weight = rng.standard_normal((size, size), dtype=np.float32)
        nodes = [helper.make_node("MatMul", ["a", "b"], ["y"])]
        inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])]
        initializers = [numpy_helper.from_array(weight, "b")]
        output = helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])
    else:
        a_type = helper.np_dtype_to_tensor_dtype(np.dtype(types.activations))
        b_dtype = np.dtype(types.weights)
        info = np.iinfo(b_dtype)
        weight = rng.integers(info.min, info.max, (size, size), dtype=b_dtype, endpoint=True)
        nodes = [helper.make_node("MatMulInteger", ["a", "b", "a_zero", "b_zero"], ["y"])]
        inputs = [
            helper.make_tensor_value_info("a", a_type, [size, size]),
            helper.make_tensor_value_info("a_zero", a_type, []),
        ]
        initializers = [
            numpy_helper.from_array(weight, "b"),
            numpy_helper.from_array(np.zeros(size, dtype=b_dtype), "b_zero"),
        ]
        output = helper.make_tensor_value_info("y", TensorProto.INT32, [size, size])
    graph = helper.make_graph(nodes, "peak", inputs, [output], initializer=initializers)
    # IR 8 / opset 17: what the exported models use, and old enough for any ONNX Runtime moodline supports.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


def best_seconds(run: Callable[[], object], seconds: float, min_runs: int = 3) -> float:
    """Fastest of repeated runs for about ``seconds``: the least disturbed run is the nearest to the peak."""
    run()  # warm-up: packs the weights, starts the thread pool
    best = float("inf")
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        runs += 1
    return best


def time_matmul(size: int, types: Int8Types | None, threads: int, seconds: float) -> float:
    """10^9 operations per second (2 * size^3 per product) of one ONNX Runtime matrix product."""
    import onnxruntime as ort

    model = matmul_model(size, types)
    session = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    if types is None:
        feed = {"a": rng.standard_normal((size, size), dtype=np.float32)}
    else:
        dtype = np.dtype(types.activations)
        info = np.iinfo(dtype)
        # A zero point mid-range, as DynamicQuantizeLinear gives activations that straddle zero.
        feed = {
            "a": rng.integers(info.min, info.max, (size, size), dtype=dtype, endpoint=True),
            "a_zero": np.array((int(info.min) + int(info.max) + 1) // 2, dtype=dtype),
        }
    return 2.0 * size**3 / best_seconds(lambda: session.run(None, feed), seconds) / 1e9


def measure_peak(threads: int, int8_model: Path | None = None, size: int = 1024, seconds: float = 1.0) -> Peak:
    """Measure the fp32 and int8 matrix-multiply peak through ONNX Runtime with ``threads`` threads.

    The int8 product uses the activation and weight types of ``int8_model``'s matrix products (the
    kernel differs by signedness); u8 x s8, what moodline's dynamic int8 export produces, without one.
    ``size`` 1024 is large enough to hide call overhead and small enough for a second per kind.
    """
    types = (int8_matmul_types(int8_model) if int8_model is not None else None) or Int8Types()
    fp32 = time_matmul(size, None, threads, seconds)
    int8 = time_matmul(size, types, threads, seconds)
    return Peak(fp32, int8, types, size, threads, amx_permitted())
