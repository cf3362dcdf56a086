"""``moodline predict``, ``info``, ``models`` and ``demo``: scoring texts and showing models."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from moodline.cli.options import (
    CONTEXT,
    band_option,
    engine_options,
    load_engine,
    long_text_option,
    model_argument,
    model_help,
    shorten,
)
from moodline.core.errors import InvalidInputError
from moodline.core.texts import check_texts

__all__ = ["demo", "info", "list_models", "predict"]

MAX_CLI_TEXT_CHARS = 1_000_000


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


@click.command(context_settings=CONTEXT)
@click.argument("texts", nargs=-1)
@click.option("--model", "-m", default=None, help=model_help)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@long_text_option
@click.option("--three-way", is_flag=True, help="negative / neutral / positive (neutral band for binary models).")
@click.option(
    "--two-way", is_flag=True, help="NEGATIVE or POSITIVE only: a three-label model's two renormalised probabilities."
)
@band_option
@click.option("--url", default=None, help="Ask a running moodline server instead of loading a model.")
@click.option("--api-key", envvar="MOODLINE_API_KEY", default=None, help="Bearer key for --url (or MOODLINE_API_KEY).")
@engine_options
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
    items = (
        check_texts(texts, max_chars=MAX_CLI_TEXT_CHARS, first=1, hint="use 'moodline score' for files")
        if texts
        else _stdin_texts()
    )
    if not items:
        raise InvalidInputError("stdin held no non-empty lines")
    if three_way and two_way:
        raise click.UsageError("--three-way and --two-way ask for different answers; pick one")
    if three_way and url is not None:
        raise click.UsageError("--three-way scores locally; it cannot be combined with --url")
    if three_way:
        _predict_three_way(items, as_json, load_engine(model, backend, threads, long_text=long_text), neutral_band)
        return
    if url is not None:
        predictions = _predict_remote(url, api_key, items, long_text)
    else:
        predictions = load_engine(model, backend, threads, long_text=long_text).predict(items)
    if two_way:
        from moodline.inference.three_way import to_two_way

        predictions = [to_two_way(p) for p in predictions]
    for text, prediction in zip(items, predictions, strict=True):
        if as_json:
            click.echo(json.dumps({"text": text, **prediction.to_dict()}, ensure_ascii=False))
        else:
            note = "  (truncated: use --long-text chunk to read it all)" if prediction.truncated else ""
            click.echo(f"{prediction.label:<10} {prediction.score:.3f}  {shorten(text)}{note}")


def _predict_three_way(texts: list[str], as_json: bool, engine: Any, band: Any) -> None:
    from moodline.inference.three_way import ThreeWayScorer

    for text, result in zip(texts, ThreeWayScorer(engine, band).score(texts), strict=True):
        if as_json:
            click.echo(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))
        else:
            click.echo(f"{result.label:<10} {result.sentiment:+.3f}  {shorten(text)}")


def _predict_remote(url: str, api_key: str | None, texts: list[str], long_text: str) -> list[Any]:
    import httpx

    from moodline.client import Client

    try:
        with Client(url, api_key=api_key) as client:
            result: list[Any] = client.predict(texts, long_text=long_text)
            return result
    except httpx.HTTPError as exc:
        raise InvalidInputError(f"cannot reach the moodline server at {url} ({type(exc).__name__})") from exc


@click.command(context_settings=CONTEXT)
@model_argument
@engine_options
def info(model: str | None, backend: str, threads: int | None) -> None:
    """Show MODEL's name, version, labels, backend and limits as JSON."""
    engine = load_engine(model, backend, threads)
    click.echo(json.dumps(engine.info.to_dict(), indent=2))


@click.command(name="models", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """List the models that ship with moodline (the default first); pass a name to --model."""
    from moodline.inference.model_dir import load_metadata
    from moodline.inference.sources import BUNDLED_MODEL_NAME, EMOTION_MODEL_NAME, shipped_models

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
    width = max([28, *(len("/".join(row["labels"])) for row in rows)])
    for row in rows:
        flag = "  (default)" if row["default"] else "  (emotions)" if row["name"] == EMOTION_MODEL_NAME else ""
        click.echo(
            f"{row['name']:<32} {'/'.join(row['labels']):<{width}} {row['quantization'] or 'fp32':<5} "
            f"{row['size_mb']:>5.1f} MB{flag}"
        )


@click.command(context_settings=CONTEXT)
@click.option("--model", "-m", default=None, help=model_help)
def demo(model: str | None) -> None:
    """Predict a few example sentences with the bundled model, without a server."""
    from moodline.inference.engine import Engine

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
