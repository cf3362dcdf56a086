"""Unsigned int8 weights: the same matrices exactly, hence the same answers on every CPU kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from moodline.inference.backends.int8_weights import unsigned_weight_model, use_unsigned_weights
from moodline.inference.engine import Engine
from moodline.inference.sources import SST2_MODEL_NAME, resolve_local
from tests.servers import require_binary

TEXTS = [
    "The support team was friendly and fixed my problem quickly.",
    "I have been waiting on hold for an hour.",
    "The meeting is at ten.",
    "Honestly the worst update they have ever shipped, everything crashes!!!",
    "ok",
    "We closed the quarter slightly ahead of plan, with churn down and margins up. " * 6,
]
# QEMU's user-mode emulator with a Haswell CPU: AVX2 and FMA, no AVX-512, no VNNI.
EMULATED_AVX2 = "Haswell-v4"


def int8_tensors(model_bytes: bytes | Path) -> int:
    model = onnx.load_from_string(model_bytes) if isinstance(model_bytes, bytes) else onnx.load(str(model_bytes))
    return sum(t.data_type == TensorProto.INT8 for t in model.graph.initializer)


def test_unsigned_weights_give_the_same_probabilities(tmp_path):
    shipped = resolve_local(SST2_MODEL_NAME)
    assert shipped is not None
    rewritten = unsigned_weight_model(shipped / "model.onnx")
    assert rewritten is not None and int8_tensors(shipped / "model.onnx") > 40
    # Embedding tables stay int8 (they are looked up, not multiplied); the multiplied weights do not.
    assert int8_tensors(rewritten) < int8_tensors(shipped / "model.onnx") - 40
    signed = Engine.load(SST2_MODEL_NAME, int8_weights="signed", threads=1)
    unsigned = Engine.load(SST2_MODEL_NAME, int8_weights="unsigned", threads=1)
    assert unsigned.backend.unsigned_weights and not signed.backend.unsigned_weights  # type: ignore[attr-defined]
    a, b = signed.probabilities(TEXTS)[0], unsigned.probabilities(TEXTS)[0]
    # Exact integer products either way on a CPU with VNNI or AMX; on plain AVX2 the signed kernel
    # saturates, so there the two may differ (the point of unsigned weights), but not in kind.
    assert np.allclose(a, b, atol=0.2)


def test_a_weight_without_zero_point_gets_one():
    rng = np.random.default_rng(0)
    weight = rng.integers(-128, 128, size=(16, 8), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 8])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = Path(__file__).parent / "_matmul.onnx"
    try:
        onnx.save(model, str(path))
        rewritten = unsigned_weight_model(path)
    finally:
        path.unlink(missing_ok=True)
    assert rewritten is not None
    a = rng.integers(0, 256, size=(4, 16), dtype=np.uint8)
    (y,) = ort.InferenceSession(rewritten, providers=["CPUExecutionProvider"]).run(None, {"a": a})
    assert np.array_equal(y, a.astype(np.int32) @ weight.astype(np.int32))


def test_auto_picks_unsigned_only_where_the_cpu_would_saturate():
    assert use_unsigned_weights("auto", frozenset({"avx2", "fma"}))
    assert not use_unsigned_weights("auto", frozenset({"avx2", "avx512f", "avx512_vnni"}))
    assert not use_unsigned_weights("auto", frozenset({"avx2", "avx_vnni"}))
    assert not use_unsigned_weights("auto", frozenset({"avx2", "amx_int8"}))
    assert use_unsigned_weights("unsigned", frozenset({"avx512_vnni"}))
    assert not use_unsigned_weights("signed", frozenset({"avx2"}))
    with pytest.raises(ValueError, match="int8 weights"):
        use_unsigned_weights("both")  # type: ignore[arg-type]


SCORE = """
import json, sys
from moodline.inference.engine import Engine
engine = Engine.load(sys.argv[1], int8_weights=sys.argv[2], threads=1)
print(json.dumps(engine.probabilities(json.loads(sys.argv[3]))[0].tolist()))
"""


def score(model: Path, weights: str, emulated: str | None = None) -> np.ndarray:
    command = [sys.executable, "-c", SCORE, str(model), weights, json.dumps(TEXTS)]
    if emulated:
        command = [require_binary("qemu-x86_64"), "-cpu", emulated, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.array(json.loads(done.stdout))


@pytest.mark.integration
def test_unsigned_weights_answer_the_same_on_an_avx2_cpu(tiny_hf_model, tmp_path):
    """Under QEMU emulating an AVX2-only CPU, ONNX Runtime takes its AVX2 int8 kernels; with unsigned
    weights their answers equal this CPU's bit for bit, whatever this CPU is."""
    from moodline.training.export import export_model

    model = tmp_path / "tiny-int8"
    export_model(tiny_hf_model, model, name="tiny", quantize="int8")
    here = score(model, "unsigned")
    emulated = score(model, "unsigned", EMULATED_AVX2)
    assert np.array_equal(here, emulated)
