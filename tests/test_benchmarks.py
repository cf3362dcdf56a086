"""The engine benchmark's machine report: CPU features, operation counts, measured peak (all fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmarks.encoder_ops import EncoderShape, flops_per_sentence, padded_tokens_per_sentence
from benchmarks.machine import (
    CpuInfo,
    Int8Types,
    int8_gemm_kernel,
    int8_matmul_types,
    matmul_model,
    measure_peak,
    parse_cpuinfo,
    read_cpu,
)
from hypothesis import given
from hypothesis import strategies as st

# Two processors, as /proc/cpuinfo repeats every field per logical CPU; VNNI in its older spelling.
SAMPLE_CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512vnni
bogomips\t: 4000.00

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512vnni
"""

AVX2_ONLY = CpuInfo("Intel(R) Core(TM) i7-8700", frozenset({"avx", "avx2", "fma"}))
SAPPHIRE_RAPIDS = CpuInfo(
    "Intel(R) Xeon(R) Platinum 8480+",
    frozenset({"avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "amx_tile", "amx_int8"}),
)


def test_parse_cpuinfo_reads_model_and_features():
    cpu = parse_cpuinfo(SAMPLE_CPUINFO)
    assert cpu.model == "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    assert cpu.has("avx512_vnni") and cpu.has("AVX512VNNI")
    assert cpu.features() == {
        "AVX2": True,
        "AVX-512": True,
        "AVX-512 VNNI": True,
        "AVX-VNNI": False,
        "AVX-512 BF16": False,
        "AMX-INT8": False,
        "AMX-BF16": False,
    }


@given(st.sets(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True), max_size=40))
def test_parse_cpuinfo_keeps_every_flag(flags):
    cpu = parse_cpuinfo("model name\t: X\nflags\t\t: " + " ".join(sorted(flags)) + "\n")
    assert all(cpu.has(flag) for flag in flags)


def test_read_cpu_without_model_name_falls_back_to_platform(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\nCPU part\t: 0xd40\n")
    cpu = read_cpu(cpuinfo)
    assert cpu.model  # platform's name for the machine, never empty
    assert cpu.has("i8mm")
    assert read_cpu(tmp_path / "missing").model


def test_int8_kernel_follows_the_flags():
    u8s8 = Int8Types("uint8", "int8")
    assert int8_gemm_kernel(AVX2_ONLY, u8s8).startswith("AVX2 without VNNI")
    assert int8_gemm_kernel(parse_cpuinfo(SAMPLE_CPUINFO), u8s8).startswith("AVX-512 VNNI")
    assert int8_gemm_kernel(SAPPHIRE_RAPIDS, u8s8, amx=True) == "AMX-INT8"
    # MLAS falls back to VNNI where Linux refuses the process AMX state.
    assert int8_gemm_kernel(SAPPHIRE_RAPIDS, u8s8, amx=False).startswith("AVX-512 VNNI")
    assert "16 bits" in int8_gemm_kernel(AVX2_ONLY, Int8Types("uint8", "uint8"))


def test_ops_per_sentence_matches_a_hand_count():
    shape = EncoderShape(layers=2, hidden=4, intermediate=8)
    # Per layer at 3 tokens: projections 4*3*4*4 = 192, scores and values 2*3*3*4 = 72,
    # feed-forward 2*3*4*8 = 192: 456 MACs; 2 layers 912 MACs; 1824 operations.
    assert shape.macs_per_sequence(3) == 912
    assert flops_per_sentence(shape, [(2, 3)]) == 1824
    # At 1 token: 64 + 8 + 64 = 136 per layer, 544 operations; a call of each averages 1184.
    assert flops_per_sentence(shape, [(1, 3), (1, 1)]) == 1184
    assert padded_tokens_per_sentence([(1, 3), (1, 1)]) == 2


def test_encoder_shape_from_hf_config_names():
    assert EncoderShape.from_hf_config({"n_layers": 6, "dim": 768, "hidden_dim": 3072}) == EncoderShape(6, 768, 3072)
    bert = {"num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536}
    assert EncoderShape.from_hf_config(bert) == EncoderShape(6, 384, 1536)


def test_encoder_shape_from_an_unfused_onnx_graph(tmp_path: Path):
    from onnx import TensorProto, helper, numpy_helper, save

    hidden, intermediate = 4, 8
    weights = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "o": (hidden, hidden)}
    weights |= {"up": (hidden, intermediate), "down": (intermediate, hidden), "pooler": (hidden, hidden)}
    nodes = [helper.make_node("MatMul", ["x", name], [f"{name}_out"]) for name in weights]
    nodes.append(helper.make_node("Softmax", ["q_out"], ["probs"]))
    graph = helper.make_graph(
        nodes,
        "layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, hidden])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, hidden])],
        initializer=[numpy_helper.from_array(np.zeros(dims, np.float32), name) for name, dims in weights.items()],
    )
    path = tmp_path / "model.onnx"
    save(helper.make_model(graph), str(path))
    assert EncoderShape.from_onnx(path) == EncoderShape(layers=1, hidden=hidden, intermediate=intermediate)


def test_peak_is_positive_on_a_tiny_matrix():
    peak = measure_peak(threads=1, size=16, seconds=0.01)
    assert peak.fp32_gops > 0
    assert peak.int8_gops > 0
    assert peak.for_precision("int8") == peak.int8_gops


@pytest.mark.parametrize("types", [Int8Types("uint8", "int8"), Int8Types("uint8", "uint8"), None])
def test_int8_types_read_back_from_a_matrix_product_model(tmp_path: Path, types: Int8Types | None):
    path = tmp_path / "model.onnx"
    path.write_bytes(matmul_model(8, types))
    assert int8_matmul_types(path) == types  # None: an fp32 MatMul has no int8 product


def test_the_emotion_benchmark_builds_a_timed_meeting_from_meld_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))  # the benchmark imports its sibling `machine`
    spec = importlib.util.spec_from_file_location("transcripts_benchmark", benchmarks / "transcripts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    meld = tmp_path / "dev.csv"
    meld.write_text(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
        '1,"Oh my God, he\'s lost it.",Phoebe,sadness,negative,0,0,4,7,"00:20:57,256","00:21:00,049"\n'
        '2,What?,Monica,surprise,negative,0,1,4,7,"00:21:01,927","00:21:03,261"\n'
        '3,"  ",Ross,neutral,neutral,0,2,4,7,"00:21:04,000","00:21:05,000"\n'
        '4,Fine.,Ross,neutral,neutral,0,3,4,7,"00:21:09,000","00:21:05,000"\n',
        encoding="utf-8",
    )
    rows = module.read_meld(meld)
    assert [(speaker, text) for speaker, text, _ in rows] == [
        ("Phoebe", "Oh my God, he's lost it."),
        ("Monica", "What?"),
        ("Ross", "Fine."),
    ]
    assert rows[0][2] == pytest.approx(2.793) and rows[2][2] == 2.0  # an end before the start: 2 s
    meeting = module.build_meeting(rows, 7)
    assert [cue.speaker for cue in meeting.cues] == ["Phoebe", "Monica", "Ross"] * 2 + ["Phoebe"]
    starts = [cue.start for cue in meeting.cues]
    assert starts == sorted(starts) and all(c.end > c.start for c in meeting.cues)
