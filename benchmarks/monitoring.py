"""Replay a stream that shifts domain through the prediction log and the checks, without labels.

The stream starts with in-domain text and then switches to another domain; the true labels are kept
aside and never reach the store. Every text is scored by the bundled three-way model, logged as the
server logs it, and the checks run every ``--check-every`` predictions, as the in-server monitor does.
Printed per window of ``--window`` predictions: the true accuracy (from the kept-aside labels), the
label-free estimate with its band, and the share of the window from the shifted domain; then the
prediction at which ``estimated_accuracy`` and ``text_drift`` first failed, counted from the shift.

The default stream: the held-out tenth of the clothing reviews (three-way, never trained on; the
temperature was fitted on the dev sets it belongs to), then MELD dev (dialogue from a TV series,
three-way). Both have three-way true labels, so accuracy is the plain three-way accuracy.

    python benchmarks/monitoring.py                 # ~2 minutes on 2 cores
    python benchmarks/monitoring.py --json
    python benchmarks/monitoring.py --in-domain tweeteval-val --shifted meld-dev
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.lifecycle.checks import ModelFacts, Monitor
from moodline.lifecycle.store import LoggedPrediction, Store


@dataclass
class Window:
    first: int
    last: int
    shifted_share: float
    true_accuracy: float
    estimated_accuracy: float
    low: float
    high: float
    estimated_macro_f1: float

    @property
    def error(self) -> float:
        return self.estimated_accuracy - self.true_accuracy


@dataclass
class Simulation:
    in_domain: str
    shifted: str
    shift_at: int  # predictions before the first shifted one
    windows: list[Window]
    fired: dict[str, int | None]  # check -> predictions after the shift when it first failed
    false_alarms: dict[str, int]  # check -> failing runs before the shift
    check_runs: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for window, row in zip(self.windows, result["windows"], strict=True):
            row["error"] = window.error
        return result


def simulate(
    engine: Engine,
    in_domain: tuple[str, list[str], list[str]],
    shifted: tuple[str, list[str], list[str]],
    *,
    window: int = 500,
    check_every: int = 250,
    min_samples: int = 100,
    permutations: int = 10,
    batch: int = 64,
    database: Path | None = None,
) -> Simulation:
    """Replay ``in_domain`` then ``shifted`` (name, texts, true labels); checks every ``check_every``."""
    started = time.perf_counter()
    texts = in_domain[1] + shifted[1]
    truth = in_domain[2] + shifted[2]
    shift_at = len(in_domain[1])
    with tempfile.TemporaryDirectory() as scratch:
        path = database or Path(scratch) / "monitor.db"
        store = Store(f"sqlite:///{path}")
        settings = Settings(
            data_dir=scratch,
            monitor_reference=window,
            monitor_recent=window,
            monitor_min_samples=min_samples,
            monitor_windows=200,
            text_drift_permutations=permutations,
        )
        monitor = Monitor(store, settings, engine, ModelFacts.of(engine, settings))
        true_of: dict[str, str] = {}
        fired: dict[str, int | None] = {"estimated_accuracy": None, "text_drift": None}
        false_alarms = dict.fromkeys(fired, 0)
        runs = 0
        history: list[dict[str, Any]] = []
        for first in range(0, len(texts), batch):
            chunk = texts[first : first + batch]
            rows = []
            for text, label, prediction in zip(chunk, truth[first : first + batch], engine.predict(chunk), strict=True):
                row = LoggedPrediction(
                    uuid.uuid4().hex,
                    time.time(),
                    engine.info.name,
                    engine.info.version,
                    text,
                    prediction.label,
                    prediction.score,
                    dict(prediction.scores),
                )
                true_of[row.id] = label
                rows.append(row)
            store.add_predictions(rows)
            logged = first + len(chunk)
            if logged // check_every == (logged - len(chunk)) // check_every and logged != len(texts):
                continue
            report = monitor.run()
            runs += 1
            for check in report.checks:
                if check.name not in fired or check.status != "fail":
                    continue
                if logged <= shift_at:
                    false_alarms[check.name] += 1
                elif fired[check.name] is None:
                    fired[check.name] = logged - shift_at
            history = next(c for c in report.checks if c.name == "estimated_accuracy").details["windows"]
        windows = []
        for entry in history:
            logged_rows = store.prediction_slice(engine.info.version, entry["first"] - 1, window)
            correct = [row.label == true_of[row.id] for row in logged_rows]
            shifted_rows = max(0, entry["last"] - max(shift_at, entry["first"] - 1))
            estimate = entry["estimate"]
            windows.append(
                Window(
                    entry["first"],
                    entry["last"],
                    shifted_rows / len(logged_rows),
                    float(np.mean(correct)),
                    estimate["accuracy"],
                    estimate["accuracy_low"],
                    estimate["accuracy_high"],
                    estimate["macro_f1"],
                )
            )
        store.dispose()
    return Simulation(
        in_domain[0], shifted[0], shift_at, windows, fired, false_alarms, runs, time.perf_counter() - started
    )


def read_dev_set(name: str, limit: int | None, seed: int) -> tuple[str, list[str], list[str]]:
    """One dev set of the shipped three-way mix, shuffled (seeded), labels as the model's label names."""
    from moodline.training.mixture import DataMixture

    mixture = DataMixture.load("sentiment-3way")
    found = {source.name: source for source in mixture.dev}
    if name not in found:
        raise SystemExit(f"no dev set {name!r}; the mix has {', '.join(sorted(found))}")
    data = found[name].read(mixture.label_names, found[name].split)
    if len(data.allowed) != 3:
        raise SystemExit(f"{name} has only {len(data.allowed)} labels: three-way accuracy is not defined on it")
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    order = order[:limit] if limit else order
    return name, [data.texts[i] for i in order], [mixture.label_names[data.labels[i]] for i in order]


def format_simulation(result: Simulation) -> str:
    lines = [
        f"stream: {result.in_domain} ({result.shift_at} predictions), then {result.shifted}",
        "",
        "| predictions | shifted share | true accuracy | estimated (95% band) | error | est. macro-F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for w in result.windows:
        lines.append(
            f"| {w.first}-{w.last} | {w.shifted_share:.0%} | {w.true_accuracy:.3f} | {w.estimated_accuracy:.3f} "
            f"({w.low:.3f}-{w.high:.3f}) | {w.error:+.3f} | {w.estimated_macro_f1:.3f} |"
        )
    lines.append("")
    for check, after in result.fired.items():
        when = f"{after} predictions after the shift" if after is not None else "never"
        lines.append(f"{check}: first failed {when}; failing runs before the shift: {result.false_alarms[check]}")
    lines.append(f"{result.check_runs} check runs, {result.seconds:.0f} s in all")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--in-domain", default="clothing-holdout", help="dev set of the sentiment-3way mix")
    parser.add_argument("--shifted", default="meld-dev", help="dev set the stream shifts to")
    parser.add_argument("--in-domain-limit", type=int, default=2250)
    parser.add_argument("--shifted-limit", type=int, default=None)
    parser.add_argument("--window", type=int, default=500, help="MONITOR_REFERENCE and MONITOR_RECENT")
    parser.add_argument("--check-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0, help="order of each set's rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine = Engine.load()
    result = simulate(
        engine,
        read_dev_set(args.in_domain, args.in_domain_limit, args.seed),
        read_dev_set(args.shifted, args.shifted_limit, args.seed),
        window=args.window,
        check_every=args.check_every,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_simulation(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
