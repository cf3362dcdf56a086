"""Gated retraining: train a challenger on base data plus feedback; promote it only if it is better.

1. Feedback is split (seeded): most of it joins the base training data, the rest joins the held-out
   set, so both models are judged on the kind of text that is arriving now.
2. The challenger is fine-tuned, exported to ONNX and registered with alias ``challenger``.
3. Challenger and champion are scored on the same held-out set. The challenger becomes ``champion``
   only if its accuracy beats the champion's by at least ``retrain_margin`` (and strictly).
4. The decision and both scores are logged to MLflow and sent as an alert.

Example::

    result = retrain(settings)
    result.promoted, result.challenger_accuracy, result.champion_accuracy
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moodline.core.datafiles import LabelledData, read_labelled
from moodline.core.errors import InvalidInputError
from moodline.core.locations import data_dir, store_url
from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.lifecycle.alerts import AlertDispatcher
from moodline.lifecycle.registry import ModelRegistry
from moodline.lifecycle.store import FeedbackRow, Store
from moodline.lifecycle.tracking import MlflowTracker, tracked_run

__all__ = ["RetrainResult", "gate", "retrain"]

log = logging.getLogger("moodline.lifecycle")

RETRAIN_EXPERIMENT = "moodline-retrain"
FEEDBACK_HOLDOUT = 0.3


@dataclass
class RetrainResult:
    promoted: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    challenger_accuracy: float
    champion_accuracy: float | None
    margin: float
    heldout_size: int
    feedback_rows: int
    train_rows: int
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_feedback(rows: list[FeedbackRow], labels: list[str], seed: int) -> tuple[LabelledData, LabelledData]:
    """Feedback as labelled data, split into a training part and a held-out part (seeded)."""
    usable = [r for r in rows if r.label in labels]
    order = list(range(len(usable)))
    random.Random(seed).shuffle(order)
    cut = round(len(order) * FEEDBACK_HOLDOUT)
    held, kept = sorted(order[:cut]), sorted(order[cut:])

    def data(indices: list[int]) -> LabelledData:
        return LabelledData(
            [usable[i].text for i in indices], [labels.index(usable[i].label) for i in indices], list(labels)
        )

    return data(kept), data(held)


def _merge(*parts: LabelledData) -> LabelledData:
    labels = parts[0].label_names
    return LabelledData([t for p in parts for t in p.texts], [y for p in parts for y in p.labels], list(labels))


def _accuracy(engine: Engine, data: LabelledData) -> float:
    predicted = engine.predict(data.texts)
    return sum(engine.labels.index(p.label) == y for p, y in zip(predicted, data.labels, strict=True)) / len(data)


def gate(challenger: float, champion: float | None, margin: float) -> tuple[bool, str]:
    """Whether a challenger with held-out accuracy ``challenger`` replaces the champion, and why."""
    if champion is None:
        return True, "there is no champion yet"
    gain = challenger - champion
    if gain > 0 and gain >= margin:
        return True, f"challenger {challenger:.4f} beats champion {champion:.4f} by {gain:+.4f} (margin {margin:.4f})"
    return (
        False,
        f"challenger {challenger:.4f} vs champion {champion:.4f}: {gain:+.4f} is short of the margin {margin:.4f}",
    )


def retrain(
    settings: Settings,
    *,
    base_data: str | None = None,
    heldout: str | None = None,
    text_column: str = "sentence",
    label_column: str = "label",
    seed: int = 42,
) -> RetrainResult:
    """Train, evaluate, register and (maybe) promote one challenger."""
    from moodline.training.export import export_model
    from moodline.training.trainer import TrainingArguments, train

    base_file = base_data or settings.retrain_data
    if not base_file:
        raise InvalidInputError("no base training data: pass --data or set MOODLINE_RETRAIN_DATA")
    registry = ModelRegistry(settings)
    store = Store.open(store_url(settings))
    champion_version = registry.get(alias="champion")
    champion_engine = Engine.load(registry.download(champion_version)) if champion_version else None

    base = read_labelled(
        base_file,
        text_column=text_column,
        label_column=label_column,
        label_names=champion_engine.labels if champion_engine else None,
        limit=settings.retrain_limit,
    )
    labels = base.label_names
    feedback_rows = store.recent_feedback()
    feedback_train, feedback_held = split_feedback(feedback_rows, labels, seed)
    held_parts = [feedback_held]
    heldout_file = heldout or settings.retrain_heldout
    if heldout_file:
        held_parts.append(
            read_labelled(heldout_file, text_column=text_column, label_column=label_column, label_names=labels)
        )
    held = _merge(*held_parts)
    if len(held) == 0:
        raise InvalidInputError("nothing to compare the models on: no feedback yet and no held-out file")
    training = _merge(base, feedback_train)

    tracker = MlflowTracker(settings, RETRAIN_EXPERIMENT, f"retrain-{settings.registry_name}")
    with tracked_run(tracker), tempfile.TemporaryDirectory(prefix="retrain-", dir=_work_root(settings)) as scratch:
        work = Path(scratch)
        args = TrainingArguments(
            train_rows=training,
            output_dir=str(work / "trained"),
            base_model=settings.retrain_base_model,
            label_names=list(labels),
            epochs=settings.retrain_epochs,
            learning_rate=settings.retrain_learning_rate,
            batch_size=16,
            patience=0,
            seed=seed,
        )
        tracker.log_params(
            {
                "training": {k: v for k, v in args.to_dict().items() if k not in {"train_file", "output_dir"}},
                "base_data": base_file,
                "heldout_file": heldout_file or "",
                "margin": settings.retrain_margin,
                "feedback_rows": len(feedback_rows),
                "feedback_train_rows": len(feedback_train),
                "heldout_rows": len(held),
                "champion_version": champion_version.version if champion_version else "",
            }
        )
        train(
            args,
            on_evaluation=lambda r: tracker.log_metrics(
                {"train_loss": r["train_loss"], "dev_accuracy": r["dev_accuracy"]}, step=int(r["step"])
            ),
        )
        exported = work / "onnx"
        export_model(
            work / "trained",
            exported,
            quantize="int8" if settings.retrain_quantize else None,
            name=settings.registry_name,
        )
        challenger_engine = Engine.load(exported)
        challenger_accuracy = _accuracy(challenger_engine, held)
        champion_accuracy = _accuracy(champion_engine, held) if champion_engine else None
        promoted, reason = gate(challenger_accuracy, champion_accuracy, settings.retrain_margin)
        version = registry.register(
            exported,
            run_id=tracker.run_id,
            tags={
                "eval_accuracy": f"{challenger_accuracy:.6f}",
                "heldout_rows": str(len(held)),
                "role": "challenger",
                "promoted": str(promoted).lower(),
            },
        )
        registry.set_alias("challenger", version)
        if promoted:
            registry.set_alias("champion", version)
        metrics = {"challenger_accuracy": challenger_accuracy, "promoted": float(promoted)}
        if champion_accuracy is not None:
            metrics["champion_accuracy"] = champion_accuracy
        tracker.log_metrics(metrics)
        tracker.set_tags({"decision": "promoted" if promoted else "kept_champion", "challenger_version": version})
        result = RetrainResult(
            promoted=promoted,
            reason=reason,
            challenger_version=version,
            champion_version=champion_version.version if champion_version else None,
            challenger_accuracy=challenger_accuracy,
            champion_accuracy=champion_accuracy,
            margin=settings.retrain_margin,
            heldout_size=len(held),
            feedback_rows=len(feedback_rows),
            train_rows=len(training),
            run_id=tracker.run_id,
        )
        decision = work / "decision.json"
        decision.write_text(json.dumps(result.to_dict(), indent=2))
        tracker.log_artifact(decision)

    verdict = f"challenger version {version} promoted to champion" if promoted else "champion kept"
    dispatcher = AlertDispatcher(store, settings)
    dispatcher.notify(
        f"retrain:{tracker.run_id}",
        f"[moodline] retraining: {verdict}",
        f"{reason}.\n\n{json.dumps(result.to_dict(), indent=2)}\n",
    )
    dispatcher.deliver_due()
    log.info("retraining: %s (%s)", verdict, reason)
    return result


def _work_root(settings: Settings) -> str:
    root = data_dir(settings) / "retrain"
    root.mkdir(parents=True, exist_ok=True)
    return str(root)
