"""``moodline evaluate`` and ``calibrate``: measuring a model on labelled data and fitting its temperature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from moodline.cli.options import (
    CONTEXT,
    band_option,
    data_root_option,
    dev_sets,
    engine_options,
    load_engine,
    model_argument,
)
from moodline.core.datafiles import LABELLED_FORMATS

__all__ = ["calibrate", "evaluate"]


def _evaluate_suite(
    model: str | None,
    compare: tuple[str, ...],
    mixture: str,
    data_root: Path | None,
    band: Any,
    backend: str,
    threads: int | None,
    as_json: bool,
) -> None:
    from moodline.inference.sources import SST2_MODEL_NAME, resolve_local
    from moodline.inference.three_way import is_sentiment
    from moodline.training.suite import format_suite, run_suite

    mix, sets = dev_sets(mixture, data_root)
    models: list[str | None] = [model, *compare]
    # The SST-2 model with the neutral band is the baseline of sentiment mixes only (not of emotions).
    sentiment = is_sentiment(mix.label_names)
    if not compare and sentiment and resolve_local(model) != resolve_local(SST2_MODEL_NAME):
        models.append(SST2_MODEL_NAME)
    rows = []
    for name in models:
        engine = load_engine(name, backend, threads)
        label = engine.info.name + ("" if engine.info.quantization else f" ({engine.info.backend})")
        rows.extend(run_suite(engine, sets, mix.label_names, band=band, model_name=label))
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        click.echo(format_suite(rows))


@click.command(context_settings=CONTEXT)
@model_argument
@click.option(
    "--data",
    "data_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labelled CSV, TSV or JSONL file (or --suite).",
)
@click.option(
    "--suite",
    is_flag=True,
    help="Score every dev set of the data mix (--mix) in one table, beside the --compare models.",
)
@click.option(
    "--mix", "mixture", default="sentiment-3way", show_default=True, help="Data mix whose [[dev]] sets --suite scores."
)
@data_root_option
@click.option(
    "--compare",
    multiple=True,
    help="Also score this model in the suite (repeatable; default: the SST-2 model with the neutral band).",
)
@click.option("--text-column", default="sentence", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--format",
    "data_format",
    type=click.Choice(LABELLED_FORMATS),
    default=None,
    help="File format (default: from the extension).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate only the first N rows.")
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write confusion_matrix.png and reliability.png here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--three-way", is_flag=True, help="Score negative / neutral / positive; labels must name those three.")
@band_option
@engine_options
def evaluate(
    model: str | None,
    data_file: Path | None,
    suite: bool,
    mixture: str,
    data_root: Path | None,
    compare: tuple[str, ...],
    text_column: str,
    label_column: str,
    data_format: str | None,
    limit: int | None,
    plots_dir: Path | None,
    as_json: bool,
    three_way: bool,
    neutral_band: Any,
    backend: str,
    threads: int | None,
) -> None:
    """Evaluate MODEL on a labelled file: accuracy, macro-F1, per-class scores, calibration, speed.

    \b
    Example:
      moodline evaluate --data ../shared/data/sst2/dev.tsv --json
      moodline evaluate --three-way --data ../shared/data/meld/dev_sent_emo.csv \\
        --text-column Utterance --label-column Sentiment
      moodline evaluate --suite                    # every dev set, bundled model beside the SST-2 model
    """
    from moodline.core.datafiles import read_labelled
    from moodline.training.evaluation import evaluate as run_evaluation

    if suite == (data_file is not None):
        raise click.UsageError("give either --data FILE or --suite")
    if suite:
        _evaluate_suite(model, compare, mixture, data_root, neutral_band, backend, threads, as_json)
        return
    assert data_file is not None
    engine = load_engine(model, backend, threads)
    if three_way:
        _evaluate_three_way(
            engine,
            read_labelled(data_file, text_column=text_column, label_column=label_column, fmt=data_format, limit=limit),
            as_json,
            neutral_band,
        )
        return
    data = read_labelled(
        data_file,
        text_column=text_column,
        label_column=label_column,
        label_names=engine.labels,
        fmt=data_format,
        limit=limit,
    )
    report = run_evaluation(engine, data, plots_dir=plots_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"model        {report['model']['name']} ({report['model']['backend']}, "
        f"{report['model']['quantization'] or 'fp32'})"
    )
    click.echo(f"examples     {report['examples']}")
    click.echo(f"accuracy     {report['accuracy']:.4f}")
    click.echo(f"macro-F1     {report['macro_f1']:.4f}")
    click.echo(f"ECE          {report['ece']:.4f}")
    click.echo(f"throughput   {report['throughput_per_second']:.0f} texts/s")
    click.echo(f"\n{'label':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in report["per_class"].items():
        click.echo(f"{label:<12}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}")
    for path in report.get("plots", []):
        click.echo(f"wrote {path}")


def _evaluate_three_way(engine: Any, data: Any, as_json: bool, band: Any) -> None:
    from moodline.inference.three_way import ThreeWayScorer
    from moodline.training.three_way import evaluate_three_way

    report = evaluate_three_way(ThreeWayScorer(engine, band), data)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    band = report["band"]
    click.echo(
        f"examples     {report['examples']}"
        + (f"  (neutral band {band['low']:.2f}-{band['high']:.2f})" if band else "")
    )
    click.echo(
        f"macro-F1     {report['macro_f1']:.4f}   always binary {report['baselines']['always_binary']['macro_f1']:.4f}"
        f"   always neutral {report['baselines']['always_neutral']['macro_f1']:.4f}"
    )
    click.echo(f"accuracy     {report['accuracy']:.4f}")
    click.echo(f"\n{'label':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in report["per_class"].items():
        click.echo(f"{label:<12}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}")
    labels, matrix = report["confusion_matrix"]["labels"], report["confusion_matrix"]["matrix"]
    click.echo("\nconfusion (rows true, columns predicted)")
    click.echo(" " * 12 + "".join(f"{label:>10}" for label in labels))
    for label, row in zip(labels, matrix, strict=True):
        click.echo(f"{label:<12}" + "".join(f"{value:>10}" for value in row))


@click.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--mix", "mixture", default="sentiment-3way", show_default=True, help="Data mix whose [[dev]] sets to fit on."
)
@data_root_option
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write calibration.png (reliability before and after, per dev set) here.",
)
@click.option(
    "--objective",
    type=click.Choice(["nll", "worst-ece", "worst-ece-by-label"]),
    default="nll",
    show_default=True,
    help=(
        "Minimise the mean negative log-likelihood, or the worst dev set's calibration error "
        "(this one also fits how the temperature changes with text length and logit margin; "
        "'by-label' adds a factor per label answered)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def calibrate(
    model: Path, mixture: str, data_root: Path | None, plots_dir: Path | None, objective: str, as_json: bool
) -> None:
    """Fit MODEL's temperature on dev data and store it in its moodline.json.

    \b
    Example:
      moodline calibrate runs/sentiment-onnx --plots runs/calibration
    """
    from moodline.training.calibration import calibrate_model, described_calibration

    mix, sets = dev_sets(mixture, data_root)
    report = calibrate_model(model, sets, mix.label_names, plots_dir, objective)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    nll = f"mean NLL {report['nll_before']:.4f} -> {report['nll_after']:.4f}"
    click.echo(f"temperature  {described_calibration(report)}  ({nll})")
    click.echo(f"{'dev set':<20}{'n':>7}{'ECE before':>12}{'ECE after':>12}")
    for name, row in report["sets"].items():
        click.echo(f"{name:<20}{row['examples']:>7}{row['ece_before']:>12.4f}{row['ece_after']:>12.4f}")
    if "plot" in report:
        click.echo(f"wrote {report['plot']}")
