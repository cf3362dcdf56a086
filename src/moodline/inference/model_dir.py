"""A moodline model directory: the names of its files, defined once, and its metadata.

An exported model (``moodline export``) is a directory with::

    model.onnx       the network (usually int8)
    tokenizer.json   the fast tokenizer
    moodline.json    name, version, labels, max_length, quantization, calibration temperature
    registry.json    only in a registry download: the version, its tags and evaluation accuracy

A Hugging Face directory (training output, export input) has ``config.json`` and tokenizer files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moodline.core.errors import ModelLoadError

__all__ = [
    "HF_CONFIG_FILE",
    "HF_MODEL_FILES",
    "HF_TOKENIZER_FILES",
    "METADATA_FILE",
    "ONNX_FILE",
    "REGISTRY_FILE",
    "TOKENIZER_FILE",
    "TOKENIZER_FILES",
    "has_onnx_model",
    "has_tokenizer",
    "load_metadata",
    "read_registry_facts",
]

METADATA_FILE = "moodline.json"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
REGISTRY_FILE = "registry.json"
HF_CONFIG_FILE = "config.json"
# What a Hugging Face save writes, and what a training run publishes of it.
HF_MODEL_FILES = (HF_CONFIG_FILE, "model.safetensors", "generation_config.json")
HF_TOKENIZER_FILES = (TOKENIZER_FILE, "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
# Any one of these makes a Hugging Face directory's tokenizer loadable.
TOKENIZER_FILES = (TOKENIZER_FILE, "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def has_onnx_model(directory: Path) -> bool:
    return (directory / ONNX_FILE).is_file()


def has_tokenizer(directory: Path) -> bool:
    return any((directory / name).is_file() for name in TOKENIZER_FILES)


def load_metadata(directory: Path) -> dict[str, Any]:
    """``moodline.json`` of a model directory; a clear error when it is missing."""
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelLoadError(f"{directory}: no {METADATA_FILE}; create the model with 'moodline export'")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def read_registry_facts(directory: Path) -> dict[str, Any] | None:
    """``registry.json`` of a registry download, or ``None`` for a model that did not come from the registry."""
    path = directory / REGISTRY_FILE
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
