"""Experiment tracking for training runs: MLflow (default) or Weights & Biases.

A tracked run records the training arguments as parameters, every dev evaluation as metrics (by
optimizer step), then ``metrics.json``, the training curve, an evaluation report of the best model
on the dev data (with confusion matrix and reliability plots) and the model files as artifacts.

MLflow writes to ``MOODLINE_MLFLOW_URI`` (a tracking server) or, by default, to an embedded SQLite
store under the data directory. W&B honours its own settings (``WANDB_MODE=offline`` works without
a network).

Example::

    metrics, run_id = train_with_tracking(args, settings, "mlflow")
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from moodline.core.durable import write_atomically
from moodline.core.errors import MissingDependencyError
from moodline.core.locations import data_dir
from moodline.core.settings import Settings
from moodline.inference.registry import RegistryError, mlflow_client
from moodline.lifecycle.registry import experiment_id

__all__ = ["MlflowTracker", "Tracker", "WandbTracker", "open_tracker", "train_with_tracking", "tracked_run"]

log = logging.getLogger("moodline.lifecycle")

TRAINING_EXPERIMENT = "moodline-training"
SKIPPED_OUTPUTS = {"checkpoints", ".staging"}


class Tracker(Protocol):
    run_id: str

    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...
    def set_tags(self, tags: dict[str, str]) -> None: ...
    def finish(self, failed: bool = False) -> None: ...


class MlflowTracker:
    """One MLflow run, driven through ``MlflowClient`` (no global fluent state, safe in a server)."""

    def __init__(self, settings: Settings, experiment: str, run_name: str) -> None:
        self.client = mlflow_client(settings)
        try:
            experiment_key = experiment_id(self.client, settings, experiment)
            self.run_id: str = self.client.create_run(experiment_key, run_name=run_name).info.run_id
        except Exception as exc:  # noqa: BLE001 - unreachable server, bad URI...: one clear error
            raise RegistryError(f"cannot start an MLflow run: {exc}") from exc

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key, str(value)[:6000]) for key, value in flatten(params).items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.client.log_metric(self.run_id, key, float(value), step=step or 0)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def finish(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


class WandbTracker:
    """One Weights & Biases run (``WANDB_MODE=offline`` keeps it on disk under the data directory)."""

    def __init__(self, settings: Settings, experiment: str, run_name: str) -> None:
        try:
            import wandb  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise MissingDependencyError("wandb is not installed; pip install wandb") from exc
        self.wandb = wandb
        directory = data_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=experiment, name=run_name, dir=str(directory), reinit="create_new")
        self.run_id = str(self.run.id)

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(flatten(params), allow_val_change=True)  # type: ignore[no-untyped-call,unused-ignore]

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.run.log(dict(metrics), step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        name = (artifact_path or path.stem).replace("/", "-")
        artifact = self.wandb.Artifact(f"{self.run_id}-{name}", type="model" if path.is_dir() else "file")
        if path.is_dir():
            artifact.add_dir(str(path))
        else:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.run.summary.update(tags)

    def finish(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def open_tracker(kind: str, settings: Settings, experiment: str, run_name: str) -> Tracker | None:
    """A tracker of ``kind`` (``mlflow``, ``wandb``) or ``None`` for ``none``."""
    if kind == "none":
        return None
    if kind == "wandb":
        return WandbTracker(settings, experiment, run_name)
    return MlflowTracker(settings, experiment, run_name)


@contextmanager
def tracked_run(tracker: Tracker | None) -> Iterator[Tracker | None]:
    """Finish the run as failed when the block raises, as finished otherwise."""
    try:
        yield tracker
    except BaseException:
        if tracker is not None:
            tracker.finish(failed=True)
        raise
    if tracker is not None:
        tracker.finish()


def train_with_tracking(args: Any, settings: Settings, kind: str) -> tuple[dict[str, Any], str | None]:
    """Run ``training.train(args)`` with every evaluation, the report, plots and model logged."""
    from moodline.training.trainer import train

    tracker = open_tracker(kind, settings, TRAINING_EXPERIMENT, Path(args.output_dir).name)
    with tracked_run(tracker):
        if tracker is not None:
            tracker.log_params(args.to_dict())

        def on_evaluation(record: dict[str, Any]) -> None:
            if tracker is not None:
                per_set = {
                    f"dev_macro_f1_{name}": scores["macro_f1"] for name, scores in record.get("dev_sets", {}).items()
                }
                tracker.log_metrics(
                    {
                        "train_loss": record["train_loss"],
                        "dev_accuracy": record["dev_accuracy"],
                        "dev_score": record["dev_score"],
                        "epoch": record["epoch"],
                        **per_set,
                    },
                    step=int(record["step"]),
                )

        metrics = train(args, on_evaluation=on_evaluation)
        if tracker is not None:
            log_training_outputs(tracker, args, metrics)
    return metrics, tracker.run_id if tracker is not None else None


def log_training_outputs(tracker: Tracker, args: Any, metrics: dict[str, Any]) -> None:
    """Summary metrics, metrics.json, the curve, a dev-set evaluation report with plots, and the model."""
    from moodline.core.datafiles import LabelledData
    from moodline.inference.engine import Engine
    from moodline.training.evaluation import evaluate
    from moodline.training.trainer import load_training_data

    output = Path(args.output_dir)
    tracker.log_metrics(
        {
            "best_dev_accuracy": metrics["best_dev_accuracy"],
            "best_dev_score": metrics["best_dev_score"],
            "epochs_run": metrics["epochs_run"],
            "steps": metrics["steps"],
        }
    )
    for name in ("metrics.json", "training_curve.png"):
        if (output / name).is_file():
            tracker.log_artifact(output / name)
    _, dev_sets, _ = load_training_data(args)
    engine = Engine.load(output, threads=args.threads)
    with tempfile.TemporaryDirectory(prefix="moodline-eval-") as scratch:
        for dev in dev_sets:
            # One dev set keeps the plain names (eval_accuracy, evaluation/); several are named by set.
            suffix = "" if len(dev_sets) == 1 else f"_{dev.name}"
            plots = Path(scratch) / f"evaluation{suffix.replace('_', '-')}"
            data = LabelledData(dev.texts, dev.labels, list(engine.labels))
            report = evaluate(engine, data, plots_dir=plots)
            report.pop("plots", None)
            report["model"].pop("path", None)
            write_atomically(plots / "report.json", json.dumps(report, indent=2))
            tracker.log_artifact(plots, plots.name)
            tracker.log_metrics(
                {
                    f"eval_accuracy{suffix}": report["accuracy"],
                    f"eval_macro_f1{suffix}": report["macro_f1"],
                    f"eval_ece{suffix}": report["ece"],
                }
            )
        model_files = Path(scratch) / "model"
        model_files.mkdir()
        for item in output.iterdir():
            if item.name not in SKIPPED_OUTPUTS and item.is_file():
                (model_files / item.name).symlink_to(item.resolve())
        tracker.log_artifact(model_files, "model")


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists as JSON (tracker parameters are flat strings)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(list(value))
        else:
            flat[name] = value
    return flat
