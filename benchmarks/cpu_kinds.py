"""The figures that depend on the CPU's int8 kernels, measured here or on an emulated AVX2-only CPU.

ONNX Runtime picks its int8 matrix-multiply kernel by the CPU's features: AMX, AVX-512 VNNI, AVX-VNNI
or plain AVX2. They round differently (AVX2's ``vpmaddubsw`` adds pairs of products into saturating
16-bit sums), so the shipped int8 models give slightly different probabilities on each kind, and the
tests' accuracy floors must hold on all of them. This script prints the figures those floors guard,
computed exactly as the tests compute them:

* the SST-2 model on SST-2 dev (sentences right of 872), as ``moodline evaluate`` scores it;
* the neutral band tuned for the SST-2 model on MELD dev, and the shipped band's macro-F1 there;
* the default model on MELD dev (three-way) and SST-2 dev (two-way), as the accuracy suite scores them;
* the default model on the plain-sentence regression list.

``--emulate avx2`` runs the same measurement under QEMU's user-mode emulator with a Haswell CPU
(AVX2 and FMA, no AVX-512: QEMU's TCG emulates up to AVX2), so ONNX Runtime takes its AVX2 kernels on
any x86 host. Emulation changes which instructions run, not what they compute, but it is slow: about
25 minutes for all figures on one core. It needs ``qemu-x86_64`` (Debian package ``qemu-user``).

Usage::

    python benchmarks/cpu_kinds.py                 # this CPU
    python benchmarks/cpu_kinds.py --emulate avx2  # an AVX2-only CPU, emulated
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import FEATURES, read_cpu  # noqa: E402

# QEMU's name for an AVX2-only CPU; set in the child so it reports what it runs on.
EMULATED_CPUS = {"avx2": "Haswell-v4"}
EMULATION_ENV = "MOODLINE_EMULATED_CPU"
PLAIN_SENTENCES = ROOT / "tests" / "data" / "plain_sentences.tsv"


def measure() -> dict[str, Any]:
    import numpy as np

    from moodline.core.datafiles import read_labelled
    from moodline.inference.engine import Engine
    from moodline.inference.sources import SST2_MODEL_NAME
    from moodline.inference.three_way import DEFAULT_BAND, ThreeWayScorer
    from moodline.training.evaluation import score_in_chunks
    from moodline.training.mixture import DataMixture, default_data_root
    from moodline.training.suite import run_suite
    from moodline.training.three_way import evaluate_three_way, tune_band

    figures: dict[str, Any] = {}
    mix = DataMixture.load("sentiment-3way")
    dev = {s.name: s for s in mix.read_dev() if s.name in {"meld-dev", "sst2-dev"}}

    started = time.perf_counter()
    sst2_model = Engine.load(SST2_MODEL_NAME)
    sst2 = dev["sst2-dev"]
    probabilities = score_in_chunks(sst2_model, sst2.texts, desc="SST-2 model, SST-2 dev")
    # SST-2 dev labels are the mix's ids (0 negative, 2 positive); the binary model's columns are 0, 1.
    right = int(sum(int(p) * 2 == y for p, y in zip(probabilities.argmax(1), sst2.labels, strict=True)))
    figures["sst2_model_sst2_dev_right"] = right
    figures["sst2_model_sst2_dev_examples"] = len(sst2.labels)

    meld = read_labelled(
        default_data_root() / "meld" / "dev_sent_emo.csv",
        text_column="Utterance",
        label_column="Sentiment",
        label_names=["negative", "neutral", "positive"],
    )
    scorer = ThreeWayScorer(sst2_model)
    band, best_f1 = tune_band(scorer.p_positive(meld.texts), meld.labels)
    figures["meld_dev_tuned_band"] = band.to_dict()
    figures["meld_dev_tuned_band_macro_f1"] = round(best_f1, 4)
    figures["meld_dev_shipped_band"] = DEFAULT_BAND.to_dict()
    figures["meld_dev_shipped_band_macro_f1"] = round(evaluate_three_way(scorer, meld)["macro_f1"], 4)

    default = Engine.load()
    for row in run_suite(default, list(dev.values()), mix.label_names):
        figures[f"default_{row.set}"] = {
            "mode": row.mode,
            "right": round(row.accuracy * row.examples),
            "examples": row.examples,
            "macro_f1": round(row.macro_f1, 4),
            "weighted_f1": round(row.weighted_f1, 4),
            "ece": None if row.ece is None else round(row.ece, 4),
        }
    with PLAIN_SENTENCES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    predictions = default.predict([r["text"] for r in rows])
    figures["default_plain_sentences_right"] = sum(
        p.label.lower() == r["label"] for r, p in zip(rows, predictions, strict=True)
    )
    figures["default_plain_sentences"] = len(rows)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["probe"] = np.round(default.probabilities(["The support team was friendly."])[0][0], 6).tolist()
    return figures


def describe_cpu() -> str:
    emulated = os.environ.get(EMULATION_ENV)
    if emulated:
        return f"{emulated} emulated by QEMU (AVX2, FMA; no AVX-512, no VNNI) on {read_cpu().model}"
    cpu = read_cpu()
    names = [name for flag, name in FEATURES if cpu.has(flag)]
    return f"{cpu.model} ({', '.join(names) or 'no AVX2'})"


def run_emulated(kind: str, as_json: bool) -> int:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        print("--emulate needs qemu-x86_64 (Debian package qemu-user)", file=sys.stderr)
        return 2
    command = [qemu, "-cpu", EMULATED_CPUS[kind], sys.executable, str(Path(__file__).resolve())]
    if as_json:
        command.append("--json")
    env = {**os.environ, EMULATION_ENV: EMULATED_CPUS[kind], "OMP_NUM_THREADS": "1"}
    # QEMU warns once per CPU feature its TCG lacks (invpcid, spec-ctrl...): noise, not errors.
    completed = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=False)
    for line in completed.stderr.splitlines():
        if "TCG doesn't support requested feature" not in line:
            print(line, file=sys.stderr)
    return completed.returncode


def print_table(figures: dict[str, Any]) -> None:
    print(f"CPU: {figures['cpu']}")
    print(f"{'figure':<48}{'value':>28}")
    right, total = figures["sst2_model_sst2_dev_right"], figures["sst2_model_sst2_dev_examples"]
    print(f"{'SST-2 model, SST-2 dev, right':<48}{f'{right}/{total} ({right / total:.4f})':>28}")
    band = figures["meld_dev_tuned_band"]
    tuned = f"{band['low']:.2f}-{band['high']:.2f} (F1 {figures['meld_dev_tuned_band_macro_f1']:.4f})"
    print(f"{'SST-2 model, MELD dev, tuned band':<48}{tuned:>28}")
    shipped = figures["meld_dev_shipped_band"]
    value = f"{shipped['low']:.2f}-{shipped['high']:.2f} (F1 {figures['meld_dev_shipped_band_macro_f1']:.4f})"
    print(f"{'SST-2 model, MELD dev, shipped band':<48}{value:>28}")
    for name in ("meld-dev", "sst2-dev"):
        row = figures[f"default_{name}"]
        value = f"{row['right']}/{row['examples']}, macro-F1 {row['macro_f1']:.4f}"
        label = f"default model, {name} ({row['mode']}), right"
        print(f"{label:<48}{value:>28}")
    plain = f"{figures['default_plain_sentences_right']}/{figures['default_plain_sentences']}"
    print(f"{'default model, plain sentences right':<48}{plain:>28}")
    print(f"({figures['seconds']} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emulate", choices=sorted(EMULATED_CPUS), help="measure on an emulated CPU kind")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.emulate and not os.environ.get(EMULATION_ENV):
        return run_emulated(args.emulate, args.json)
    figures = {"cpu": describe_cpu(), **measure()}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
