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

``--record`` keeps the figures in ``docs/model/cpu_kinds/`` (one JSON file per CPU kind, with the
versions of the models measured) and rewrites the "Figures per CPU kind" section of both models'
cards from every record of the versions that ship; the bundle scripts write that section the same
way, so a rebuilt model's card lists only the kinds measured for it.

``--emulate avx2`` runs the same measurement under QEMU's user-mode emulator with a Haswell CPU
(AVX2 and FMA, no AVX-512: QEMU's TCG emulates up to AVX2), so ONNX Runtime takes its AVX2 kernels on
any x86 host. Emulation changes which instructions run, not what they compute, but it is slow: about
25 minutes for all figures on one core. It needs ``qemu-x86_64`` (Debian package ``qemu-user``).

Usage::

    python benchmarks/cpu_kinds.py                 # this CPU
    python benchmarks/cpu_kinds.py --emulate avx2  # an AVX2-only CPU, emulated
    python benchmarks/cpu_kinds.py --record        # this CPU, kept, and the cards' sections rewritten
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import FEATURES, CpuInfo, read_cpu  # noqa: E402

from moodline.core.durable import write_atomically  # noqa: E402

# QEMU's name for an AVX2-only CPU; set in the child so it reports what it runs on.
EMULATED_CPUS = {"avx2": "Haswell-v4"}
EMULATION_ENV = "MOODLINE_EMULATED_CPU"
PLAIN_SENTENCES = ROOT / "tests" / "data" / "plain_sentences.tsv"
RECORDS = ROOT / "docs" / "model" / "cpu_kinds"
SECTION = "## Figures per CPU kind"


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
    figures["sst2_model_version"] = sst2_model.info.version
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
    figures["default_model_version"] = default.info.version
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


def kind_label(cpu: CpuInfo, emulated: str | None = None) -> str:
    """The CPU kind as the cards' tables name it: the maker and line, and the int8 path it offers."""
    if emulated:
        return f"AVX2 only ({emulated.split('-')[0]}, emulated)"
    # "Intel(R) Xeon(R) Platinum 8488C" -> "Intel Xeon"; "AMD EPYC 7B13 64-Core Processor" -> "AMD EPYC".
    maker = " ".join(re.sub(r"\((R|TM)\)", "", cpu.model).split()[:2]) or "unknown CPU"
    if cpu.has("avx512_vnni"):
        path = "AVX-512 VNNI + AMX" if cpu.has("amx_int8") else "AVX-512 VNNI"
    else:
        path = "AVX-VNNI" if cpu.has("avx_vnni") else "AVX2 only" if cpu.has("avx2") else "no AVX2"
    return f"{maker}, {path}"


def record(figures: dict[str, Any]) -> Path:
    """Keep this kind's figures (replacing its earlier record) and rewrite both cards' sections."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    path = RECORDS / (re.sub(r"[^a-z0-9]+", "-", figures["kind"].lower()).strip("-") + ".json")
    write_atomically(path, json.dumps(figures, indent=2) + "\n")
    from moodline.inference.sources import BUNDLED_MODEL_DIR, MODELS_DIR, SST2_MODEL_NAME

    update_card(BUNDLED_MODEL_DIR, figures["default_model_version"], "default")
    update_card(MODELS_DIR / SST2_MODEL_NAME, figures["sst2_model_version"], "sst2")
    return path


def records(version_key: str, version: str, directory: Path) -> list[dict[str, Any]]:
    """The recorded figures of ``version`` (by ``version_key``), in the order of their kinds."""
    found = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))] if directory.is_dir() else []
    return [r for r in found if r.get(version_key) == version]


def default_row(r: dict[str, Any]) -> str:
    meld, sst2 = r["default_meld-dev"], r["default_sst2-dev"]
    return (
        f"| {r['kind']} | {meld['right']}/{meld['examples']} ({meld['macro_f1']:.4f}, {meld['weighted_f1']:.4f}, "
        f"{meld['ece']:.4f}) | {sst2['right']}/{sst2['examples']} | "
        f"{r['default_plain_sentences_right']}/{r['default_plain_sentences']} |"
    )


def sst2_row(r: dict[str, Any]) -> str:
    right, total = r["sst2_model_sst2_dev_right"], r["sst2_model_sst2_dev_examples"]
    tuned, shipped = r["meld_dev_tuned_band"], r["meld_dev_shipped_band"]
    return (
        f"| {r['kind']} | {right}/{total} ({right / total:.4f}) | {tuned['low']:.2f}-{tuned['high']:.2f} "
        f"({r['meld_dev_tuned_band_macro_f1']:.4f}) | {shipped['low']:.2f}-{shipped['high']:.2f} "
        f"({r['meld_dev_shipped_band_macro_f1']:.4f}) |"
    )


class CardTable(NamedTuple):
    version_key: str  # the record's field holding the version of this model it measured
    header: str
    row: Callable[[dict[str, Any]], str]
    what: str
    note: str = ""


CARD_TABLES = {
    "default": CardTable(
        "default_model_version",
        "| CPU kind | MELD dev right (macro-F1, weighted-F1, ECE) | SST-2 dev two-way right | plain sentences right |",
        default_row,
        "the figures the tests' floors guard",
    ),
    "sst2": CardTable(
        "sst2_model_version",
        "| CPU kind | SST-2 dev right | MELD dev neutral band tuned (macro-F1) | shipped band (MELD dev macro-F1) |",
        sst2_row,
        "the figures",
        # The band is a grid point: two kinds may land on neighbouring points of (almost) equal macro-F1.
        "The band test checks the shipped band's macro-F1 against the best band's (within 0.005), not the grid point.",
    ),
}


def section(table: CardTable, version: str, directory: Path) -> str:
    """The "Figures per CPU kind" section of a model card: one row per recorded kind of ``version``."""
    rows = [table.row(r) for r in records(table.version_key, version, directory)]
    closing = " ".join(
        part
        for part in (
            "The tests' floors (`tests/inference/test_bundled_model.py`) sit below every kind.",
            table.note,
            "`MOODLINE_INT8_WEIGHTS=unsigned` serves the same weights with exact products and gives the VNNI "
            "figures on any CPU.",
        )
        if part
    )
    intro = textwrap.fill(
        "int8 arithmetic is exact with AVX-512 VNNI or AMX and saturates with plain AVX2, so "
        f"{table.what} are measured on each kind (`python benchmarks/cpu_kinds.py --record`, and "
        "`--emulate avx2 --record` for an AVX2-only CPU under QEMU; the records are in `docs/model/cpu_kinds/`):",
        width=100,
    )
    closing = textwrap.fill(closing, width=100)
    body = (
        f"{table.header}\n|---|---:|---:|---:|\n" + "\n".join(rows)
        if rows
        else f"No CPU kind is recorded yet for version `{version}`."
    )
    return f"""{SECTION}

{intro}

{body}

{closing}
"""


def with_section(card: str, version: str, model: Literal["default", "sst2"], directory: Path = RECORDS) -> str:
    """``card`` with its "Figures per CPU kind" section made from the records in ``directory`` of this
    model ``version``: the old section replaced, or a new one added before "## Reproduce"."""
    text = section(CARD_TABLES[model], version, directory)
    start = card.find(f"\n{SECTION}\n")
    if start >= 0:
        end = card.find("\n## ", start + len(SECTION) + 2)
        rest = "\n" + card[end + 1 :] if end >= 0 else ""
        return card[: start + 1] + text + rest
    at = card.find("\n## Reproduce\n")
    if at < 0:
        return card.rstrip("\n") + "\n\n" + text
    return card[: at + 1] + text + "\n" + card[at + 1 :]


def update_card(model_dir: Path, version: str, model: Literal["default", "sst2"], directory: Path = RECORDS) -> None:
    """Rewrite the section of ``model_dir``'s MODEL_CARD.md in place (:func:`with_section`)."""
    card_path = model_dir / "MODEL_CARD.md"
    write_atomically(card_path, with_section(card_path.read_text(), version, model, directory))


def run_emulated(kind: str, as_json: bool, keep: bool) -> int:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        print("--emulate needs qemu-x86_64 (Debian package qemu-user)", file=sys.stderr)
        return 2
    command = [qemu, "-cpu", EMULATED_CPUS[kind], sys.executable, str(Path(__file__).resolve())]
    if as_json:
        command.append("--json")
    if keep:
        command.append("--record")
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
    parser.add_argument(
        "--record", action="store_true", help="keep the figures (docs/model/cpu_kinds/) and rewrite the cards' sections"
    )
    args = parser.parse_args()
    if args.emulate and not os.environ.get(EMULATION_ENV):
        return run_emulated(args.emulate, args.json, args.record)
    figures = {
        "cpu": describe_cpu(),
        "kind": kind_label(read_cpu(), os.environ.get(EMULATION_ENV)),
        "recorded": time.strftime("%Y-%m-%d"),
        **measure(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    if args.record:
        print(f"recorded in {record(figures).relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
