"""Options and helpers more than one command group uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from moodline.core.errors import InvalidInputError

__all__ = [
    "CONTEXT",
    "band_option",
    "count_of",
    "data_root_option",
    "dev_sets",
    "emotion_options",
    "engine_options",
    "load_emotion_scorer",
    "load_engine",
    "long_text_option",
    "model_argument",
    "model_help",
    "raw_csv_option",
    "shorten",
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

model_argument = click.argument("model", required=False, metavar="[MODEL]")
model_help = "Model directory, hub id, or omitted for the bundled model."
long_text_option = click.option(
    "--long-text",
    type=click.Choice(["truncate", "chunk"]),
    default="truncate",
    show_default=True,
    help="Texts longer than the model maximum: keep the start, or score every window and average.",
)
data_root_option = click.option(
    "--data-root",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where a data mix's relative paths start (default: its 'root', else $MOODLINE_SHARED_DATA or ../shared/data).",
)


def band_option(func: Any) -> Any:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        from moodline.inference.three_way import DEFAULT_BAND, parse_band

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


raw_csv_option = click.option(
    "--raw-csv",
    is_flag=True,
    help="Write CSV/TSV text exactly as read. By default text starting with =, +, -, @, tab or carriage "
    "return (numbers aside) gets a leading ' so spreadsheets show it instead of running it as a formula.",
)


def emotion_options(func: Any) -> Any:
    """``--emotions/--no-emotions`` (default: the ``emotions`` setting, on) and ``--emotion-model``."""
    func = click.option(
        "--emotion-model",
        default=None,
        help="Emotion model: a shipped name or a directory (default: MOODLINE_EMOTION_MODEL, else "
        "moodline-emotions-minilm-l6).",
    )(func)
    return click.option(
        "--emotions/--no-emotions",
        "emotions",
        default=None,
        help="Score each utterance's emotion too (default: on, unless MOODLINE_EMOTIONS=0); off is faster.",
    )(func)


def load_emotion_scorer(enabled: bool | None, model: str | None) -> Any:
    """The emotion scorer the options ask for, or ``None`` when emotions are off."""
    from moodline.core.settings import get_settings

    settings = get_settings()
    if not (settings.emotions if enabled is None else enabled):
        return None
    from moodline.inference.emotions import EmotionScorer
    from moodline.inference.engine import Engine
    from moodline.inference.sources import EMOTION_MODEL_NAME

    return EmotionScorer(Engine.load(model or settings.emotion_model or EMOTION_MODEL_NAME))


def engine_options(func: Any) -> Any:
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


def dev_sets(mixture: str, data_root: Path | None) -> tuple[Any, list[Any]]:
    """A data mix and its dev sets, refusing a mix without any."""
    from moodline.training.mixture import DataMixture

    mix = DataMixture.load(mixture, data_root)
    sets = mix.read_dev()
    if not sets:
        raise InvalidInputError(f"data mix {mixture!r} has no [[dev]] sets")
    return mix, sets


def load_engine(model: str | None, backend: str, threads: int | None, **options: Any) -> Any:
    from moodline.inference.engine import Engine

    return Engine.load(model, backend=backend, threads=threads, **options)  # type: ignore[arg-type]


def count_of(number: int, noun: str, plural: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``3 speaker switches``."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def shorten(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
