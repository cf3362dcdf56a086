"""Does reading the line before help? Two runs of one mix, one trained with ``--context``, side by side.

Scores both fine-tuned runs (PyTorch, fp32) on the mix's dev sets, the context run reading each line
after the line before it in its dialogue (``moodline train --context``), the other reading each line
alone, and prints per set accuracy, macro-F1 and weighted-F1 with the difference in points. Then it
shows how each reads a few lines of a customer call, alone and after the line before.

    python benchmarks/conversation_context.py --alone runs/dialogue-alone --context runs/dialogue-context
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (line before, line): lines of a call whose reading may hang on what came before.
CALL = [
    ("My order arrived broken and nobody answers my emails.", "I hear you, let's fix it together."),
    ("Can you refund the second charge?", "Sure, it's done."),
    ("The new plan costs twice as much.", "Great."),
    ("We lost the client.", "Well, that went well."),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alone", type=Path, required=True, help="run trained on lines alone")
    parser.add_argument("--context", type=Path, required=True, help="run trained with --context")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    from moodline.training.distillation import teacher_probabilities
    from moodline.training.evaluation import classification_report
    from moodline.training.mixture import DataMixture

    metrics = json.loads((args.context / "metrics.json").read_text())
    if not metrics["arguments"].get("context"):
        parser.error(f"{args.context} was not trained with --context")
    mix = DataMixture.load(metrics["arguments"]["mixture"])
    labels = mix.label_names
    dev_sets = mix.read_dev()
    before, lines = [c for c, _ in CALL], [t for _, t in CALL]

    # One pass per run (each model loaded once): every dev line, then the call lines; the context run
    # reads the dev lines and the call lines after the line before, then the call lines alone again.
    dev_texts = [text for dev in dev_sets for text in dev.texts]
    dev_contexts = [context for dev in dev_sets for context in (dev.contexts or [""] * len(dev))]
    alone = teacher_probabilities(args.alone, dev_texts + lines, precision="fp32")
    context = teacher_probabilities(
        args.context, dev_texts + lines + lines, precision="fp32", contexts=dev_contexts + before + [""] * len(lines)
    )

    figures: dict[str, Any] = {"sets": {}, "call": []}
    offset = 0
    for dev in dev_sets:
        allowed = list(dev.allowed)
        row: dict[str, Any] = {"examples": len(dev)}
        for name, probabilities in (("alone", alone), ("context", context)):
            part = probabilities[offset : offset + len(dev), allowed]
            report = classification_report(dev.labels, [allowed[i] for i in part.argmax(1)], labels)
            row[name] = {key: round(report[key], 4) for key in ("accuracy", "macro_f1", "weighted_f1")}
        figures["sets"][dev.name] = row
        offset += len(dev)
    readings = {
        "alone run": alone[offset:],
        "context run, line alone": context[offset + len(lines) :],
        "context run, after the line before": context[offset : offset + len(lines)],
    }
    for index, (context_line, line) in enumerate(CALL):
        item: dict[str, Any] = {"before": context_line, "line": line}
        for reading, probabilities in readings.items():
            item[reading] = dict(zip(labels, probabilities[index].round(3).tolist(), strict=True))
        figures["call"].append(item)

    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{'set':<18}{'n':>6}  {'metric':<12}{'alone':>8}{'context':>9}{'points':>8}")
    for name, row in figures["sets"].items():
        for key in ("accuracy", "macro_f1", "weighted_f1"):
            a, c = row["alone"][key], row["context"][key]
            print(f"{name:<18}{row['examples']:>6}  {key:<12}{a:>8.4f}{c:>9.4f}{(c - a) * 100:>+8.2f}")
    print()
    for item in figures["call"]:
        print(f"{item['before']}  ->  {item['line']}")
        for reading in ("alone run", "context run, line alone", "context run, after the line before"):
            probabilities = item[reading]
            best = max(probabilities, key=probabilities.get)
            print(f"    {reading:<38}{best:<10}{probabilities[best]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
