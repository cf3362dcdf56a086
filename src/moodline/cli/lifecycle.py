"""The lifecycle commands: ``moodline registry``, ``moodline monitor`` and ``moodline retrain``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["CHECK_FAILED_EXIT", "monitor", "registry", "retrain"]

from moodline.cli.options import CONTEXT

CHECK_FAILED_EXIT = 3


def _settings() -> Any:
    from moodline.core.settings import get_settings

    return get_settings()


@click.group(context_settings=CONTEXT)
def registry() -> None:
    """The model registry (MLflow): register models, point the champion and challenger aliases."""


@registry.command("register", context_settings=CONTEXT)
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", default=None, help="Registered model name (default: MOODLINE_REGISTRY_NAME).")
@click.option("--alias", "aliases", multiple=True, help="Point this alias at the new version (repeatable).")
@click.option(
    "--eval-data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Labelled file: its accuracy is stored as the version's evaluation accuracy (the monitor's baseline).",
)
@click.option("--text-column", default="sentence", show_default=True)
@click.option("--label-column", default="label", show_default=True)
def register(
    model_dir: Path,
    name: str | None,
    aliases: tuple[str, ...],
    eval_data: Path | None,
    text_column: str,
    label_column: str,
) -> None:
    """Register MODEL_DIR (a moodline ONNX model directory) as a new version.

    \b
    Example:
      moodline registry register models/sst2-int8 --alias champion --eval-data ../shared/data/sst2/dev.tsv
    """
    from moodline.core.datafiles import read_labelled
    from moodline.inference.engine import Engine
    from moodline.lifecycle.registry import ModelRegistry
    from moodline.training.evaluation import evaluate

    tags = {}
    if eval_data is not None:
        engine = Engine.load(model_dir)
        data = read_labelled(eval_data, text_column=text_column, label_column=label_column, label_names=engine.labels)
        report = evaluate(engine, data)
        tags = {"eval_accuracy": f"{report['accuracy']:.6f}", "eval_data": str(eval_data), "eval_rows": str(len(data))}
    models = ModelRegistry(_settings(), name)
    version = models.register(model_dir, tags=tags)
    for alias in aliases:
        models.set_alias(alias, version)
    click.echo(json.dumps({"name": models.name, "version": version, "aliases": list(aliases), "tags": tags}))


@registry.command("alias", context_settings=CONTEXT)
@click.argument("alias")
@click.argument("version")
@click.option("--name", default=None, help="Registered model name (default: MOODLINE_REGISTRY_NAME).")
def alias(alias: str, version: str, name: str | None) -> None:
    """Point ALIAS (e.g. champion) at VERSION; servers following the alias swap to it."""
    from moodline.lifecycle.registry import ModelRegistry

    models = ModelRegistry(_settings(), name)
    if models.get(version=version) is None:
        from moodline.core.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{models.name} has no version {version}")
    models.set_alias(alias, version)
    click.echo(f"{models.name}@{alias} -> version {version}")


@registry.command("show", context_settings=CONTEXT)
@click.option("--name", default=None, help="Registered model name (default: MOODLINE_REGISTRY_NAME).")
def show(name: str | None) -> None:
    """The champion and challenger versions as JSON."""
    from moodline.lifecycle.registry import ModelRegistry

    models = ModelRegistry(_settings(), name)
    result: dict[str, Any] = {"name": models.name}
    for role in ("champion", "challenger"):
        found = models.get(alias=role)
        result[role] = (
            None if found is None else {"version": found.version, "created_at": found.created_at, "tags": found.tags}
        )
    click.echo(json.dumps(result, indent=2))


@click.group(context_settings=CONTEXT)
def monitor() -> None:
    """Checks of the served model against the prediction log and feedback."""


@monitor.command("check", context_settings=CONTEXT)
@click.option(
    "--model",
    "-m",
    default=None,
    help="The served model (default: MOODLINE_MODEL, else models:/<registry name>@champion).",
)
@click.option("--report", "as_report", is_flag=True, help="Print the short text report instead of JSON.")
@click.option("--no-alerts", is_flag=True, help="Only report; do not record check state or send alerts.")
def check(model: str | None, as_report: bool, no_alerts: bool) -> None:
    """Run every check now; exit 3 when one fails.

    \b
    Example:
      moodline monitor check --report
    """
    from moodline.core.locations import store_url
    from moodline.inference.engine import Engine
    from moodline.inference.registry import models_uri
    from moodline.lifecycle.alerts import AlertDispatcher
    from moodline.lifecycle.checks import ModelFacts, Monitor
    from moodline.lifecycle.store import Store

    settings = _settings()
    engine = Engine.load(model or settings.model or models_uri(settings.registry_name, "champion"), settings=settings)
    store = Store.open(store_url(settings))
    report = Monitor(store, settings, engine, ModelFacts.of(engine, settings)).run()
    if not no_alerts:
        dispatcher = AlertDispatcher(store, settings)
        dispatcher.raise_for(report)
        stats = dispatcher.deliver_due()
        if stats.failed:
            click.echo(f"{stats.failed} alert(s) not delivered yet; they stay queued and are retried", err=True)
    click.echo(report.text() if as_report else json.dumps(report.to_dict(), indent=2))
    if report.failing:
        sys.exit(CHECK_FAILED_EXIT)


@monitor.command("report", context_settings=CONTEXT)
@click.option(
    "--model",
    "-m",
    default=None,
    help="The served model (default: MOODLINE_MODEL, else models:/<registry name>@champion).",
)
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report here: checks, the estimated accuracy over time, drift explained, alert history.",
)
def report(model: str | None, html_path: Path) -> None:
    """Run every check now (recording nothing, alerting no one) and write the HTML report.

    \b
    Example:
      moodline monitor report --html monitor.html
    """
    from moodline.core.durable import write_atomically
    from moodline.core.locations import store_url
    from moodline.inference.engine import Engine
    from moodline.inference.registry import models_uri
    from moodline.lifecycle.checks import ModelFacts, Monitor
    from moodline.lifecycle.monitor_report import render_monitor_html
    from moodline.lifecycle.store import Store

    settings = _settings()
    engine = Engine.load(model or settings.model or models_uri(settings.registry_name, "champion"), settings=settings)
    store = Store.open(store_url(settings))
    result = Monitor(store, settings, engine, ModelFacts.of(engine, settings)).run()
    write_atomically(html_path, render_monitor_html(result, store.alerts()))
    click.echo(f"wrote {html_path} ({', '.join(result.failing) + ' failing' if result.failing else 'all checks pass'})")


@monitor.command("deliver", context_settings=CONTEXT)
def deliver() -> None:
    """Send the alerts waiting in the outbox (those whose retry time has come)."""
    from moodline.core.locations import store_url
    from moodline.lifecycle.alerts import AlertDispatcher
    from moodline.lifecycle.store import Store

    settings = _settings()
    stats = AlertDispatcher(Store.open(store_url(settings)), settings).deliver_due()
    click.echo(f"sent {stats.sent}, failed {stats.failed} (kept for retry)")


@click.command(context_settings=CONTEXT)
@click.option("--data", "base_data", default=None, help="Base training data (default: MOODLINE_RETRAIN_DATA).")
@click.option("--heldout", default=None, help="Labelled file both models are scored on, with held-out feedback.")
@click.option("--text-column", default="sentence", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def retrain(base_data: str | None, heldout: str | None, text_column: str, label_column: str, seed: int) -> None:
    """Train a challenger on base data plus feedback; promote it only if it beats the champion.

    \b
    Example:
      moodline retrain --data ../shared/data/sst2/train.tsv --heldout ../shared/data/sst2/dev.tsv
    """
    from moodline.lifecycle.retrain import retrain as run_retrain

    result = run_retrain(
        _settings(), base_data=base_data, heldout=heldout, text_column=text_column, label_column=label_column, seed=seed
    )
    click.echo(json.dumps(result.to_dict(), indent=2))
