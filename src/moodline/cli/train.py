"""``moodline train``, ``export`` and ``average``: making models."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click

from moodline.cli.options import (
    CONTEXT,
    data_root_option,
)
from moodline.core.datafiles import LABELLED_FORMATS
from moodline.core.errors import InvalidInputError

__all__ = ["average", "export", "train"]


@click.command(context_settings=CONTEXT)
@click.option(
    "--data",
    "train_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Training data: CSV, TSV or JSONL (or --mix).",
)
@click.option(
    "--mix",
    "mixture",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A data-mix TOML file: several sources with label mappings, weights and dev sets (instead of --data).",
)
@data_root_option
@click.option(
    "--exclude-source",
    "exclude_sources",
    multiple=True,
    help="Leave this source of the mix out (repeatable): e.g. train without tweets, then score tweets.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New directory for the model, metrics.json, training_curve.png and checkpoints.",
)
@click.option(
    "--base",
    "base_model",
    default="sentence-transformers/all-MiniLM-L6-v2",
    show_default=True,
    help="Base encoder: a directory or hub id (the MiniLM-L6 id works offline).",
)
@click.option(
    "--dev",
    "dev_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Dev file for early stopping (default: a held-out split of --data).",
)
@click.option("--dev-fraction", type=float, default=0.1, show_default=True)
@click.option("--text-column", default="sentence", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--labels", "label_names", default=None, help="Comma-separated label names in id order, e.g. NEGATIVE,POSITIVE."
)
@click.option("--format", "data_format", type=click.Choice(LABELLED_FORMATS), default=None)
@click.option("--limit", type=int, default=None, help="Use only the first N rows of --data.")
@click.option("--epochs", type=int, default=3, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--gradient-accumulation", type=int, default=1, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=5e-5, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--warmup-ratio", type=float, default=0.06, show_default=True)
@click.option("--max-length", type=int, default=128, show_default=True)
@click.option(
    "--patience",
    type=int,
    default=2,
    show_default=True,
    help="Stop after this many epochs without a better dev accuracy (0: never).",
)
@click.option("--eval-steps", type=int, default=None, help="Also evaluate every N optimizer steps.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--threads", type=int, default=None, help="Torch threads (default: all cores).")
@click.option("--save-steps", type=int, default=None, help="Also checkpoint every N optimizer steps (long runs).")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default="fp32",
    show_default=True,
    help="bf16 autocast: about 1.5-2x faster on CPUs with AMX or AVX-512 BF16, slower elsewhere.",
)
@click.option("--freeze-embeddings", is_flag=True, help="Keep the word-embedding table as pre-trained.")
@click.option(
    "--punctuation-dropout",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Drop a text's final full stop or exclamation mark with this probability (dialogue data ties '.' to neutral).",
)
@click.option(
    "--drop-final-full-stop",
    is_flag=True,
    help="Drop each text's final full stop, in training and (saved in the tokenizer) wherever the model scores.",
)
@click.option(
    "--context",
    is_flag=True,
    help="Read each conversation line with the line before it as a first segment (sources with a dialogue_column).",
)
@click.option(
    "--soft-labels",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="A teacher's probabilities per training row (scripts/teacher_soft_labels.py), taught beside the labels.",
)
@click.option(
    "--distill-weight",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="With --soft-labels: the teacher's share of a covered row's loss.",
)
@click.option(
    "--distill-temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="With --soft-labels: softens both distributions, so the ranking of unpicked labels is taught too.",
)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --output.")
@click.option(
    "--tracker",
    type=click.Choice(["mlflow", "wandb", "none"]),
    default=None,
    help="Log the run to MLflow (default, MOODLINE_TRACKER), Weights & Biases, or nowhere.",
)
def train(
    label_names: str | None,
    train_file: Path | None,
    mixture: Path | None,
    data_root: Path | None,
    output: Path,
    dev_file: Path | None,
    tracker: str | None,
    **options: Any,
) -> None:
    """Fine-tune a classifier on labelled text: one file, or a mix of several sources.

    \b
    Examples:
      moodline train --data ../shared/data/sst2/train.tsv --dev ../shared/data/sst2/dev.tsv \\
        --labels NEGATIVE,POSITIVE --epochs 3 --output runs/sst2
      moodline train --mix configs/sentiment-3way.toml --epochs 3 --output runs/sentiment
    """
    if (train_file is None) == (mixture is None):
        raise click.UsageError("give either --data FILE or --mix MIXFILE")
    if mixture is not None and dev_file is not None:
        raise click.UsageError("--dev goes with --data; a data mix names its dev sets itself")
    from moodline.training.trainer import TrainingArguments
    from moodline.training.trainer import train as run_training

    names = [n.strip() for n in label_names.split(",")] if label_names else None
    if names is not None and (len(names) < 2 or not all(names)):
        raise InvalidInputError("--labels needs at least two non-empty names, comma-separated")
    args = TrainingArguments(
        train_file=str(train_file) if train_file else None,
        mixture=str(mixture) if mixture else None,
        data_root=str(data_root) if data_root else None,
        output_dir=str(output),
        exclude_sources=list(options.pop("exclude_sources")),
        dev_file=str(dev_file) if dev_file else None,
        label_names=names,
        **options,
    )
    from moodline.core.settings import get_settings

    kind = tracker or get_settings().tracker
    if kind == "mlflow" and tracker is None and importlib.util.find_spec("mlflow") is None:
        click.echo("note: not tracked (mlflow is not installed: pip install 'moodline[lifecycle]')", err=True)
        kind = "none"
    if kind == "none":
        metrics, run_id = run_training(args), None
    else:
        from moodline.lifecycle.tracking import train_with_tracking

        metrics, run_id = train_with_tracking(args, get_settings(), kind)
    measure = "dev score (mean macro-F1)" if mixture else "dev accuracy"
    click.echo(
        f"best {measure} {metrics['best_dev_score']:.4f} at epoch {metrics['best_epoch']} "
        f"(step {metrics['best_step']}); model written to {output}" + (f"; {kind} run {run_id}" if run_id else "")
    )


@click.command(context_settings=CONTEXT)
@click.argument("source")
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--quantize", type=click.Choice(["int8"]), default=None, help="Quantize weights to signed int8.")
@click.option("--name", default=None, help="Model name recorded in moodline.json (default: OUTPUT's name).")
@click.option("--max-length", type=int, default=None, help="Maximum tokens (default: the model's).")
@click.option(
    "--check-data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Check agreement on this file's texts instead of the built-in probe sentences.",
)
@click.option("--text-column", default="sentence", show_default=True, help="Text column of --check-data.")
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    default=None,
    help="Required label agreement with the source (default 1.0, or 0.95 with int8).",
)
@click.option(
    "--keep-fp32",
    multiple=True,
    metavar="REGEX",
    help="With --quantize: leave ONNX nodes whose name matches unquantized (repeatable).",
)
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
def export(
    source: str,
    output: Path,
    quantize: str | None,
    name: str | None,
    max_length: int | None,
    check_data: Path | None,
    text_column: str,
    min_agreement: float | None,
    keep_fp32: tuple[str, ...],
    force: bool,
) -> None:
    """Convert a Hugging Face classification model (SOURCE: directory or hub id) to moodline's ONNX format.

    \b
    Example:
      moodline export runs/sst2 models/sst2-int8 --quantize int8
    """
    from moodline.core.datafiles import read_rows
    from moodline.training.export import export_model

    texts = None
    if check_data is not None:
        texts = []
        for number, row in read_rows(check_data):
            value = row.get(text_column)
            if text_column not in row:
                raise InvalidInputError(f"{check_data}: no text column {text_column!r}")
            if isinstance(value, str) and value.strip():
                texts.append(value)
            if len(texts) >= 1000 or number > 100_000:
                break
    report = export_model(
        source,
        output,
        quantize="int8" if quantize == "int8" else None,
        name=name,
        check_texts=texts,
        min_agreement=min_agreement,
        max_length=max_length,
        force=force,
        keep_fp32=keep_fp32,
    )
    click.echo(
        f"exported to {output}: label agreement {report['agreement']:.1%} on {report['decided_texts']} "
        f"decided probe texts ({report['agreement_all']:.1%} on all {report['texts']}), "
        f"max probability difference {report['max_abs_prob_diff']:.4f}"
    )


@click.command(context_settings=CONTEXT)
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New directory for the averaged model.",
)
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
def average(models: tuple[str, ...], output: Path, force: bool) -> None:
    """Average the weights of fine-tuned MODELS of one architecture (a "model soup").

    \b
    Example:
      moodline average runs/sst2-a runs/sst2-b --output runs/sst2-soup
    """
    from moodline.training.averaging import average_models

    average_models(models, output, force=force)
    click.echo(f"averaged {len(models)} models into {output}")
