"""The ``moodline`` command line.

Every command takes ``-h/--help``. Errors a user can cause (bad text, missing file, wrong column,
unknown model) print one ``Error: ...`` line on stderr and exit 1; usage mistakes exit 2 (click's
convention). Set ``MOODLINE_DEBUG=1`` to see tracebacks of unexpected failures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import InvalidInputError, MoodlineError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MAX_CLI_TEXT_CHARS = 1_000_000
SCORE_FORMATS = ["csv", "tsv", "jsonl", "parquet"]

model_argument = click.argument("model", required=False, metavar="[MODEL]")
model_help = "Model directory, hub id, or omitted for the bundled model."
data_root_option = click.option(
    "--data-root",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where a data mix's relative paths start (default: its 'root', else $MOODLINE_SHARED_DATA or ../shared/data).",
)


class MoodlineGroup(click.Group):
    """Turns moodline's own errors into one clean line and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MoodlineError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("MOODLINE_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (set MOODLINE_DEBUG=1 for details)", err=True)
            ctx.exit(1)


@click.group(cls=MoodlineGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="moodline")
def main() -> None:
    """moodline: fast, offline-capable sentiment analysis."""


def _band_option(func: Any) -> Any:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        from .three_way import DEFAULT_BAND, parse_band

        return DEFAULT_BAND if value is None else parse_band(value)

    return click.option(
        "--neutral-band",
        "neutral_band",
        default=None,
        metavar="LOW,HIGH",
        callback=convert,
        help="With three-way scoring of a binary model: P(positive) in this range is neutral "
        "(default: the band tuned on MELD).",
    )(func)


_raw_csv_option = click.option(
    "--raw-csv",
    is_flag=True,
    help="Write CSV/TSV text exactly as read. By default text starting with =, +, -, @, tab or carriage "
    "return (numbers aside) gets a leading ' so spreadsheets show it instead of running it as a formula.",
)


def _engine_options(func: Any) -> Any:
    func = click.option(
        "--backend",
        type=click.Choice(["auto", "onnx", "transformers"]),
        default="auto",
        show_default=True,
        help="Inference backend.",
    )(func)
    func = click.option(
        "--threads", type=click.IntRange(min=1), default=None, help="Inference threads (default: all cores)."
    )(func)
    return func


def _dev_sets(mixture: str, data_root: Path | None) -> tuple[Any, list[Any]]:
    """A data mix and its dev sets, refusing a mix without any."""
    from .mixture import DataMixture

    mix = DataMixture.load(mixture, data_root)
    sets = mix.read_dev()
    if not sets:
        raise InvalidInputError(f"data mix {mixture!r} has no [[dev]] sets")
    return mix, sets


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
    from .model_source import SST2_MODEL_NAME, resolve_local
    from .suite import format_suite, run_suite

    mix, sets = _dev_sets(mixture, data_root)
    models: list[str | None] = [model, *compare]
    if not compare and resolve_local(model) != resolve_local(SST2_MODEL_NAME):
        models.append(SST2_MODEL_NAME)
    rows = []
    for name in models:
        engine = _load_engine(name, backend, threads)
        label = engine.info.name + ("" if engine.info.quantization else f" ({engine.info.backend})")
        rows.extend(run_suite(engine, sets, mix.label_names, band=band, model_name=label))
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        click.echo(format_suite(rows))


def _load_engine(model: str | None, backend: str, threads: int | None, **options: Any) -> Any:
    from .engine import Engine

    return Engine.load(model, backend=backend, threads=threads, **options)  # type: ignore[arg-type]


def _stdin_texts() -> list[str]:
    texts = []
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"stdin line {number} is not valid UTF-8 (byte {exc.start})") from exc
        if line.strip():
            texts.append(line)
    return texts


def _checked_texts(texts: Sequence[str]) -> list[str]:
    checked = []
    for index, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # argv bytes that were not UTF-8 arrive as surrogates
            raise InvalidInputError(f"text {index + 1} is not valid UTF-8") from exc
        if not text.strip():
            raise InvalidInputError(f"text {index + 1} is empty or whitespace only")
        if len(text) > MAX_CLI_TEXT_CHARS:
            raise InvalidInputError(
                f"text {index + 1} has {len(text):,} characters; the limit is {MAX_CLI_TEXT_CHARS:,} "
                "(use 'moodline score' for files)"
            )
        checked.append(text)
    return checked


@main.command(context_settings=CONTEXT)
@click.argument("texts", nargs=-1)
@click.option("--model", "-m", default=None, help=model_help)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--long-text",
    type=click.Choice(["truncate", "chunk"]),
    default="truncate",
    show_default=True,
    help="Texts longer than the model maximum: keep the start, or score every window and average.",
)
@click.option("--three-way", is_flag=True, help="negative / neutral / positive (neutral band for binary models).")
@click.option(
    "--two-way", is_flag=True, help="NEGATIVE or POSITIVE only: a three-label model's two renormalised probabilities."
)
@_band_option
@click.option("--url", default=None, help="Ask a running moodline server instead of loading a model.")
@click.option("--api-key", envvar="MOODLINE_API_KEY", default=None, help="Bearer key for --url (or MOODLINE_API_KEY).")
@_engine_options
def predict(
    texts: tuple[str, ...],
    model: str | None,
    as_json: bool,
    long_text: str,
    three_way: bool,
    two_way: bool,
    neutral_band: Any,
    url: str | None,
    api_key: str | None,
    backend: str,
    threads: int | None,
) -> None:
    """Predict the sentiment of TEXTS (or of each line on stdin).

    \b
    Example:
      moodline predict "It is worth it" "It is a waste of time and money"
      cat reviews.txt | moodline predict --json
    """
    if not texts and sys.stdin.isatty():
        raise click.UsageError("give one or more texts, or pipe lines on stdin")
    items = _checked_texts(texts) if texts else _stdin_texts()
    if not items:
        raise InvalidInputError("stdin held no non-empty lines")
    if three_way and two_way:
        raise click.UsageError("--three-way and --two-way ask for different answers; pick one")
    if three_way:
        _predict_three_way(
            items, as_json, _load_engine(model, backend, threads, long_text=long_text), url, neutral_band
        )
        return
    if url is not None:
        predictions = _predict_remote(url, api_key, items, long_text)
    else:
        predictions = _load_engine(model, backend, threads, long_text=long_text).predict(items)
    if two_way:
        from .three_way import to_two_way

        predictions = [to_two_way(p) for p in predictions]
    for text, prediction in zip(items, predictions, strict=True):
        if as_json:
            click.echo(json.dumps({"text": text, **prediction.to_dict()}, ensure_ascii=False))
        else:
            note = "  (truncated: use --long-text chunk to read it all)" if prediction.truncated else ""
            click.echo(f"{prediction.label:<10} {prediction.score:.3f}  {_shorten(text)}{note}")


def _evaluate_three_way(engine: Any, data: Any, as_json: bool, band: Any) -> None:
    from .three_way import ThreeWayScorer, evaluate_three_way

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


def _predict_three_way(texts: list[str], as_json: bool, engine: Any, url: str | None, band: Any) -> None:
    from .three_way import ThreeWayScorer

    if url is not None:
        raise click.UsageError("--three-way scores locally; it cannot be combined with --url")
    for text, result in zip(texts, ThreeWayScorer(engine, band).score(texts), strict=True):
        if as_json:
            click.echo(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))
        else:
            click.echo(f"{result.label:<10} {result.sentiment:+.3f}  {_shorten(text)}")


def _predict_remote(url: str, api_key: str | None, texts: list[str], long_text: str) -> list[Any]:
    import httpx

    from .client import Client

    try:
        with Client(url, api_key=api_key) as client:
            result: list[Any] = client.predict(texts, long_text=long_text)
            return result
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"cannot reach the moodline server at {url} ({type(exc).__name__})") from exc


def _shorten(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@main.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "transcript_format", default=None, help="vtt, srt, sbv, otter, plain, json or csv (default: detected)."
)
@click.option("--model", "-m", default=None, help=model_help)
@click.option(
    "--window", type=click.IntRange(min=1), default=5, show_default=True, help="Utterances per rolling average."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full insights as JSON here.",
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the scored utterances as CSV here.",
)
@_raw_csv_option
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a self-contained HTML report (charts inline, works offline).",
)
@click.option(
    "--png",
    "png_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write timeline.png and speakers.png into this directory.",
)
@_band_option
def transcript(
    file: Path,
    transcript_format: str | None,
    model: str | None,
    window: int,
    json_out: Path | None,
    csv_out: Path | None,
    html_out: Path | None,
    png_dir: Path | None,
    raw_csv: bool,
    neutral_band: Any,
) -> None:
    """Analyse a meeting, interview or call transcript: sentiment per utterance, per speaker, over time.

    \b
    Example:
      moodline transcript call.vtt --json call.json --csv call.csv
    """
    from .atomic import write_atomically
    from .engine import Engine
    from .three_way import ThreeWayScorer
    from .transcripts import read_transcript
    from .transcripts.insights import analyse

    conversation = read_transcript(file, format=transcript_format)
    insights = analyse(conversation, ThreeWayScorer(Engine.load(model), neutral_band), window=window).to_dict()
    if json_out is not None:
        write_atomically(json_out, json.dumps(insights, indent=2, ensure_ascii=False) + "\n")
    if csv_out is not None:
        from .transcripts.report import render_csv

        write_atomically(csv_out, render_csv(insights, raw_csv=raw_csv))
    if html_out is not None:
        from .transcripts.report import render_html

        write_atomically(html_out, render_html(insights))
    pngs = []
    if png_dir is not None:
        from .transcripts.report import write_pngs

        pngs = write_pngs(insights, png_dir)
    summary = insights["summary"]
    click.echo(
        f"{file.name} ({insights['format']}): {summary['utterances']} utterances, {summary['turns']} turns, "
        f"{summary['speakers']} speakers, mean sentiment {summary['mean_sentiment']:+.2f}\n"
    )
    click.echo(f"{'speaker':<20}{'turns':>6}{'talk':>7}{'mean':>7}{'neg':>6}{'neu':>6}{'pos':>6}{'trend':>7}")
    for row in insights["speakers"]:
        shares = row["label_shares"]
        click.echo(
            f"{row['speaker'][:19]:<20}{row['turns']:>6}{row['talk_share']:>7.0%}{row['mean_sentiment']:>+7.2f}"
            f"{shares['negative']:>6.0%}{shares['neutral']:>6.0%}{shares['positive']:>6.0%}"
            f"{row['trajectory']['delta']:>+7.2f}"
        )
    for title, key in (("most negative", "most_negative"), ("most positive", "most_positive")):
        for moment in insights[key][:1]:
            when = f" at {moment['start']:.0f}s" if moment["start"] is not None else ""
            click.echo(f'\n{title}: {moment["speaker"]}{when}: "{_shorten(moment["quote"], 90)}"')
    for path in (json_out, csv_out, html_out, *pngs):
        if path is not None:
            click.echo(f"wrote {path}")


@main.command(context_settings=CONTEXT)
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
    type=click.Choice(["csv", "tsv", "jsonl"]),
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
@_band_option
@_engine_options
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
    from .data import read_labelled
    from .evaluation import evaluate as run_evaluation

    if suite == (data_file is not None):
        raise click.UsageError("give either --data FILE or --suite")
    if suite:
        _evaluate_suite(model, compare, mixture, data_root, neutral_band, backend, threads, as_json)
        return
    assert data_file is not None
    engine = _load_engine(model, backend, threads)
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


@main.command(context_settings=CONTEXT)
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
@click.option("--format", "data_format", type=click.Choice(["csv", "tsv", "jsonl"]), default=None)
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
    from .training import TrainingArguments
    from .training import train as run_training

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
    from .settings import get_settings

    kind = tracker or get_settings().tracker
    if kind == "mlflow" and tracker is None and importlib.util.find_spec("mlflow") is None:
        click.echo("note: not tracked (mlflow is not installed: pip install 'moodline[lifecycle]')", err=True)
        kind = "none"
    if kind == "none":
        metrics, run_id = run_training(args), None
    else:
        from .lifecycle.tracking import train_with_tracking

        metrics, run_id = train_with_tracking(args, get_settings(), kind)
    measure = "dev score (mean macro-F1)" if mixture else "dev accuracy"
    click.echo(
        f"best {measure} {metrics['best_dev_score']:.4f} at epoch {metrics['best_epoch']} "
        f"(step {metrics['best_step']}); model written to {output}" + (f"; {kind} run {run_id}" if run_id else "")
    )


@main.command(context_settings=CONTEXT)
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
    type=click.Choice(["nll", "worst-ece"]),
    default="nll",
    show_default=True,
    help="Minimise the mean negative log-likelihood, or the worst dev set's calibration error.",
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
    from .calibration import calibrate_model

    mix, sets = _dev_sets(mixture, data_root)
    report = calibrate_model(model, sets, mix.label_names, plots_dir, objective)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"temperature  {report['temperature']:.4f}  (mean NLL {report['nll_before']:.4f} -> {report['nll_after']:.4f})"
    )
    click.echo(f"{'dev set':<20}{'n':>7}{'ECE before':>12}{'ECE after':>12}")
    for name, row in report["sets"].items():
        click.echo(f"{name:<20}{row['examples']:>7}{row['ece_before']:>12.4f}{row['ece_after']:>12.4f}")
    if "plot" in report:
        click.echo(f"wrote {report['plot']}")


@main.command(name="models", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """List the models that ship with moodline (the default first); pass a name to --model."""
    from .engine import load_metadata
    from .model_source import BUNDLED_MODEL_NAME, shipped_models

    rows = []
    for name, directory in shipped_models().items():
        meta = load_metadata(directory)
        size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
        rows.append(
            {
                "name": name,
                "default": name == BUNDLED_MODEL_NAME,
                "labels": meta["labels"],
                "quantization": meta.get("quantization"),
                "calibrated": "temperature" in meta,
                "size_mb": round(size / 1e6, 1),
                "version": meta["version"],
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        flag = "  (default)" if row["default"] else ""
        click.echo(
            f"{row['name']:<32} {'/'.join(row['labels']):<28} {row['quantization'] or 'fp32':<5} "
            f"{row['size_mb']:>5.1f} MB{flag}"
        )


@main.command(context_settings=CONTEXT)
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
    from .data import read_rows
    from .export import export_model

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


@main.command(context_settings=CONTEXT)
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
    from .averaging import average_models

    average_models(models, output, force=force)
    click.echo(f"averaged {len(models)} models into {output}")


@main.command(context_settings=CONTEXT)
@click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text-column", required=True, help="Column holding the text to score.")
@click.option("--id-column", default=None, help="Column naming each row; checked to exist, used in the bad-row report.")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(SCORE_FORMATS),
    default=None,
    help="Format of IN (default: from its extension).",
)
@click.option(
    "--output-format",
    type=click.Choice(SCORE_FORMATS),
    default=None,
    help="Format of OUT (default: from its extension).",
)
@click.option("--model", "-m", default=None, help=model_help)
@click.option(
    "--long-text",
    type=click.Choice(["truncate", "chunk"]),
    default="truncate",
    show_default=True,
    help="Texts longer than the model maximum: keep the start, or score every window and average.",
)
@click.option("--prefix", default="", help="Prefix for the added columns (e.g. pred_ when IN has a 'label' column).")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=4096, show_default=True, help="Rows per chunk.")
@click.option("--restart", is_flag=True, help="Discard an unfinished job for OUT instead of resuming it.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@_raw_csv_option
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this machine, resumable; ray: a Ray cluster (Ray Data, a pool of model actors).",
)
@click.option(
    "--address",
    default=None,
    help="With --engine ray: 'auto' (the cluster this machine belongs to), ray://HOST:10001, or HOST:6379 "
    "(default: start Ray on this machine).",
)
@click.option(
    "--actors",
    type=click.IntRange(min=1),
    default=None,
    help="With --engine ray: model actors (default: the cluster's CPUs, less one, divided by --threads).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_engine_options
def score(
    source: Path,
    output: Path,
    text_column: str,
    id_column: str | None,
    input_format: str | None,
    output_format: str | None,
    model: str | None,
    long_text: str,
    prefix: str,
    chunk_rows: int,
    restart: bool,
    overwrite: bool,
    raw_csv: bool,
    engine_name: str,
    address: str | None,
    actors: int | None,
    as_json: bool,
    backend: str,
    threads: int | None,
) -> None:
    """Score every row of a CSV, TSV, JSONL or Parquet file IN into OUT (input columns + label and scores).

    Streams in chunks with flat memory. Interrupted (even killed), the same command resumes where it
    stopped; OUT appears only once complete. Rows with an empty or unreadable text are kept, with an
    'error' column saying why.

    \b
    Example:
      moodline score reviews.csv scored.parquet --text-column review --id-column id
      moodline score big.jsonl scored.jsonl --text-column text --engine ray --address auto
    """
    from .scoring import ScoreOptions, score_file, work_directory

    options = ScoreOptions(
        text_column=text_column,
        id_column=id_column,
        input_format=input_format,
        output_format=output_format,
        chunk_rows=chunk_rows,
        prefix=prefix,
        long_text=long_text,
        raw_csv=raw_csv,
    )
    if engine_name == "ray":
        from .scoring.ray_runner import score_file_ray

        if restart:
            raise click.UsageError("--restart applies to --engine local; a Ray job always starts from the beginning")
        summary = score_file_ray(
            source,
            output,
            options,
            model=model,
            backend=backend,
            threads=threads,
            address=address,
            actors=actors,
            overwrite=overwrite,
        )
    else:
        if address is not None or actors is not None:
            raise click.UsageError("--address and --actors need --engine ray")
        engine = _load_engine(model, backend, threads, long_text=long_text)
        try:
            summary = score_file(source, output, engine, options, restart=restart, overwrite=overwrite)
        except KeyboardInterrupt:
            if work_directory(output).is_dir():
                click.echo("Interrupted; run the same command again to resume.", err=True)
            raise
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    resumed = f" (resumed after {summary.resumed_rows:,})" if summary.resumed_rows else ""
    click.echo(
        f"scored {summary.rows:,} rows{resumed} in {summary.seconds:.1f}s "
        f"({summary.rows_per_second:,.0f} rows/s, {summary.engine}); wrote {summary.output}"
    )
    bad = sum(summary.bad_rows.values())
    if bad:
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in sorted(summary.bad_rows.items()))
        click.echo(f"{bad:,} rows kept unscored, marked in the error column: {reasons}")
        for example in summary.examples:
            click.echo(f"  {example}")


@main.command(context_settings=CONTEXT)
@model_argument
@_engine_options
def info(model: str | None, backend: str, threads: int | None) -> None:
    """Show MODEL's name, version, labels, backend and limits as JSON."""
    engine = _load_engine(model, backend, threads)
    click.echo(json.dumps(engine.info.to_dict(), indent=2))


@main.command(context_settings=CONTEXT)
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or MOODLINE_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000, or MOODLINE_PORT).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Gunicorn workers (default: one per core).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker.")
@click.option("--model", "-m", default=None, help=model_help)
@click.option("--api-key", "api_keys", multiple=True, help="Require this bearer key (repeatable).")
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    threads: int | None,
    model: str | None,
    api_keys: tuple[str, ...],
) -> None:
    """Start the HTTP API under Gunicorn with Uvicorn workers.

    \b
    Example:
      moodline serve --port 8000 --workers 1
      curl -s localhost:8000/predict -d '{"text": "It is worth it"}' -H 'content-type: application/json'
    """
    import shutil

    overrides = {
        "MOODLINE_HOST": host,
        "MOODLINE_PORT": port,
        "MOODLINE_WORKERS": workers,
        "MOODLINE_THREADS": threads,
        "MOODLINE_MODEL": model,
        "MOODLINE_API_KEYS": ",".join(api_keys) if api_keys else None,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(value)
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Every worker writes its metrics there and a scrape of any worker sums them all; without it
        # /metrics would show only the worker that happened to answer.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="moodline-metrics-")
    from . import gunicorn_config
    from .engine import Engine
    from .settings import Settings

    settings = Settings()
    Engine.load(settings.model, backend=settings.backend)  # fail here, clearly, not in every worker
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise InvalidInputError("gunicorn is not installed; pip install gunicorn")
    os.execv(gunicorn, [gunicorn, "--config", f"python:{gunicorn_config.__name__}"])


@main.command(context_settings=CONTEXT)
@click.option("--model", "-m", default=None, help=model_help)
def demo(model: str | None) -> None:
    """Predict a few example sentences with the bundled model, without a server."""
    from .engine import Engine

    engine = Engine.load(model)
    click.echo(
        f"model: {engine.info.name} (version {engine.info.version}, {engine.info.backend}, "
        f"{engine.info.quantization or 'fp32'})\n"
    )
    examples = [
        "It is worth it",
        "It is a waste of time and money",
        "Great service, thank you!",
        "The staff were rude and the room was dirty.",
        "A charming, funny and surprisingly moving film.",
    ]
    for text, prediction in zip(examples, engine.predict(examples), strict=True):
        click.echo(f"{prediction.label:<10} {prediction.score:.3f}  {text}")


def _add_lifecycle_commands() -> None:
    from .lifecycle.commands import monitor, registry, retrain

    main.add_command(registry)
    main.add_command(monitor)
    main.add_command(retrain)


_add_lifecycle_commands()

if __name__ == "__main__":
    main()
