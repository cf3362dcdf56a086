"""Batch scoring benchmark: `moodline score` against the bare engine on the same texts, in one run.

Builds a CSV of ``--rows`` rows from SST-2 train sentences (repeated), then measures

1. engine-only rows/s: ``Engine.probabilities`` on the same texts (all distinct sentences of the file,
   at most ``--engine-rows``), in one call, so the engine length-buckets them at its best;
2. the ``moodline score`` job as a child process: its own rows/s (from ``--json``), wall time, and the
   child's peak RSS (``resource.getrusage(RUSAGE_CHILDREN)``);

then the engine is measured again, and the job is compared with the mean of both engine passes
(other work on a shared machine drifts over minutes). Prints one JSON object.

    python benchmarks/batch.py --rows 100000
    python benchmarks/batch.py --rows 1000000      # ~20 minutes with the bundled model on 2 cores
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SST2_TRAIN = Path(os.environ.get("MOODLINE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "sst2" / "train.tsv"


def sentences(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        return [row[0] for row in reader if row and row[0].strip()]


def build_input(path: Path, texts: list[str], rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "sentence"])
        writer.writerows([index, texts[index % len(texts)]] for index in range(rows))


def engine_rate(model: str | None, threads: int | None, texts: list[str]) -> float:
    from moodline.inference.engine import Engine

    engine = Engine.load(model, threads=threads)
    engine.probabilities(texts[:256])  # warm-up: first-call allocations
    started = time.perf_counter()
    engine.probabilities(texts)
    return len(texts) / (time.perf_counter() - started)


def score_job(source: Path, output: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, "-m", "moodline.cli", "score", str(source), str(output)]
    command += ["--text-column", "sentence", "--id-column", "id", "--json", "--chunk-rows", str(args.chunk_rows)]
    if args.model:
        command += ["--model", args.model]
    if args.threads:
        command += ["--threads", str(args.threads)]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "MOODLINE_NO_PROGRESS": "1"}, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"moodline score failed ({done.returncode}): {done.stderr.strip()}")
    summary = json.loads(done.stdout)
    # ru_maxrss of children is the largest resident set of any waited-for child, in KiB on Linux
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rows": summary["rows"],
        "rows_per_second": summary["rows_per_second"],
        "wall_seconds": wall,
        "wall_rows_per_second": summary["rows"] / wall,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the generated CSV")
    parser.add_argument("--engine-rows", type=int, default=20_000, help="texts per engine-only pass")
    parser.add_argument("--chunk-rows", type=int, default=4096)
    parser.add_argument("--model", default=None, help="model (default: the bundled one)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=SST2_TRAIN, help="SST-2 train.tsv")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} is absent")
    texts = sentences(args.data)
    with tempfile.TemporaryDirectory(prefix="moodline-batch-") as scratch:
        source, output = Path(scratch) / "input.csv", Path(scratch) / "scored.csv"
        build_input(source, texts, args.rows)
        sample = [texts[i % len(texts)] for i in range(min(args.rows, args.engine_rows))]
        before = engine_rate(args.model, args.threads, sample)
        job = score_job(source, output, args)
        after = engine_rate(args.model, args.threads, sample)
        input_mib = source.stat().st_size / 2**20
    engine = (before + after) / 2
    result = {
        "rows": args.rows,
        "input_mib": round(input_mib, 1),
        "chunk_rows": args.chunk_rows,
        "engine_rows_per_second": {"before": round(before, 1), "after": round(after, 1), "mean": round(engine, 1)},
        "score_rows_per_second": round(job["rows_per_second"], 1),
        "score_wall_seconds": round(job["wall_seconds"], 1),
        "score_wall_rows_per_second": round(job["wall_rows_per_second"], 1),
        "score_peak_rss_mib": round(job["peak_rss_mib"], 1),
        "ratio_score_vs_engine": round(job["rows_per_second"] / engine, 3),
        "ratio_score_vs_best_engine_pass": round(job["rows_per_second"] / max(before, after), 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
