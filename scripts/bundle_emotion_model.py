"""Package a finished emotion training run as moodline's bundled emotion model, with its model card.

Exports the run to int8 ONNX inside the package (checked against the fp32 source), fits the
temperature on the emotion mix's dev sets (MELD dev, DailyDialog validation), scores both sets with
fp32 and int8 (accuracy, macro-F1, weighted-F1, macro-recall, ECE), times the model and writes
MODEL_CARD.md and docs/model/emotions-suite.json. Every figure in the card comes from this script's own run.

    python scripts/bundle_emotion_model.py --run runs/emotions-minilm-l6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_model import single_latency_ms, train_command  # noqa: E402
from bundle_sentiment_model import DOCS, LICENCES, calibrated_fp32, cpu_name, throughput  # noqa: E402

from moodline.inference.engine import Engine  # noqa: E402
from moodline.inference.sources import EMOTION_MODEL_DIR, EMOTION_MODEL_NAME  # noqa: E402
from moodline.training.calibration import OBJECTIVES, calibrate_model, described_calibration  # noqa: E402
from moodline.training.export import export_model  # noqa: E402
from moodline.training.mixture import DataMixture  # noqa: E402
from moodline.training.suite import SuiteRow, format_suite, run_suite  # noqa: E402

MIX = "emotions-7way"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="training output directory of the emotion run")
    parser.add_argument("--output", type=Path, default=EMOTION_MODEL_DIR)
    parser.add_argument("--objective", choices=list(OBJECTIVES), default="worst-ece")
    parser.add_argument(
        "--card-only", action="store_true", help="rewrite MODEL_CARD.md from the figures of the last run"
    )
    args = parser.parse_args()

    metrics = json.loads((args.run / "metrics.json").read_text())
    mix = DataMixture.load(MIX)
    if args.card_only:
        saved = json.loads((DOCS / "emotions-suite.json").read_text())
        rows = [SuiteRow(**row) for row in saved["suite"]]
        text = card(args, metrics, mix, rows, saved["calibration"], saved["export"], saved["speed"], saved["cpu"])
        (args.output / "MODEL_CARD.md").write_text(text)
        return 0
    sets = mix.read_dev()
    check_texts = [t for s in sets for t in s.texts[:2000]]
    export = export_model(
        args.run, args.output, quantize="int8", name=EMOTION_MODEL_NAME, check_texts=check_texts, force=True
    )
    calibration = calibrate_model(args.output, sets, mix.label_names, None, args.objective)
    int8 = Engine.load(args.output)
    fp32 = calibrated_fp32(args.run, calibration)
    rows = [
        *run_suite(int8, sets, mix.label_names, model_name="int8"),
        *run_suite(fp32, sets, mix.label_names, model_name="fp32"),
    ]
    meld = next(s for s in sets if s.name == "meld-dev-emotions")
    speed = {
        "sentences_per_second": round(throughput(int8, list(meld.texts)), 1),
        "single_p50_ms": round(single_latency_ms(int8, list(meld.texts)), 2),
    }
    DOCS.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "cpu": cpu_name(),
        "suite": [row.to_dict() for row in rows],
        "calibration": calibration,
        "export": export,
        "speed": speed,
    }
    (DOCS / "emotions-suite.json").write_text(json.dumps(record, indent=2) + "\n")
    text = card(args, metrics, mix, rows, calibration, export, speed, record["cpu"])
    (args.output / "MODEL_CARD.md").write_text(text)
    print(format_suite(rows))
    return 0


def card(
    args: argparse.Namespace,
    metrics: dict[str, Any],
    mix: DataMixture,
    rows: list[Any],
    calibration: dict[str, Any],
    export: dict[str, Any],
    speed: dict[str, float],
    cpu: str,
) -> str:
    size_mb = sum(p.stat().st_size for p in args.output.iterdir()) / 1e6
    sources = "\n".join(
        f"| {source.name} | {', '.join(sorted({v for v in (source.label_map or {}).values() if v}))} | {source.weight} "
        f"| {LICENCES[source.name]} |"
        for source in mix.sources
    )
    gaps = []
    for name in dict.fromkeys(r.set for r in rows):
        a = next(r for r in rows if r.set == name and r.model == "int8")
        b = next(r for r in rows if r.set == name and r.model == "fp32")
        gaps.append(
            f"| {name} | {b.macro_f1:.4f} | {a.macro_f1:.4f} | {100 * (a.macro_f1 - b.macro_f1):+.2f} "
            f"| {100 * (a.weighted_f1 - b.weighted_f1):+.2f} |"
        )
    ece = "\n".join(
        f"| {name} | {row['examples']} | {row['ece_before']:.4f} | {row['ece_after']:.4f} |"
        for name, row in calibration["sets"].items()
    )
    return f"""# {EMOTION_MODEL_NAME}

moodline's emotion model: one of anger, disgust, fear, joy, neutral, sadness or surprise (Ekman's six
basic emotions and neutral) per utterance, for conversation transcripts. int8 ONNX with a calibrated
temperature, offline with ONNX Runtime only; transcripts and `/live` score it beside the sentiment
model (switch it off with `--no-emotions`, `"emotions": false` or `MOODLINE_EMOTIONS=0`).

| | |
|---|---|
| base | `{metrics["base_model"]}` (all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7 M parameters) |
| data | `{MIX}` (`src/moodline/mixes/{MIX}.toml`, {metrics["train_rows"]:,} texts, {metrics["epochs_run"]} epochs) |
| checkpoint | best mean dev macro-F1 over the 2 dev sets ({metrics["best_dev_score"]:.4f}) at epoch {metrics["best_epoch"]}, step {metrics["best_step"]} |
| calibration | temperature **{described_calibration(calibration)}** fitted on the dev sets ({args.objective}) |
| quantization | dynamic, signed int8 weights per channel; int8 vs fp32 label agreement {export["agreement_all"]:.2%} on {export["texts"]:,} dev texts |
| size | directory {size_mb:.1f} MB |
| speed ({cpu}, {os.cpu_count()} threads) | {speed["sentences_per_second"]:.0f} sentences/s scoring MELD dev in batches; median single-sentence latency {speed["single_p50_ms"]:.1f} ms |

## What it learned from, and under which terms

| source | labels taught | weight | licence |
|---|---|---:|---|
{sources}

MELD's seven labels are taught as they are. EmoryNLP uses Willcox's feeling wheel: Joyful -> joy,
Mad -> anger, Sad -> sadness, Scared -> fear, Neutral -> neutral; Peaceful and Powerful have no basic
emotion and are dropped, and the source has no disgust or surprise, so its loss is taken over the five
labels it has. DailyDialog: no_emotion -> neutral, happiness -> joy, the rest by name; eight in ten of
its utterances are no_emotion, so a third of it is drawn per epoch. The sources' licences bind the
model: DailyDialog (CC BY-NC-SA 4.0) makes it **non-commercial**; MELD and EmoryNLP are for research use.

## Accuracy (dev sets; the checkpoint and the temperature were chosen on them)

Measured on {cpu}.

{format_suite(rows)}

Published text-only results on MELD's seven emotions are around 0.62-0.65 weighted-F1, from models
about fifteen times this size with the dialogue's context.

## int8 against fp32 (points)

| set | macro-F1 fp32 | macro-F1 int8 | macro-F1 difference | weighted-F1 difference |
|---|---:|---:|---:|---:|
{chr(10).join(gaps)}

## Calibration: expected calibration error before and after

| set | n | ECE before | ECE after |
|---|---:|---:|---:|
{ece}

## Reproduce

With `../shared/data/` beside the repository:

```
{train_command(metrics["arguments"]) if "arguments" in metrics else "(see metrics.json of the run)"}
python scripts/bundle_emotion_model.py --run {args.run}
```
"""


if __name__ == "__main__":
    sys.exit(main())
