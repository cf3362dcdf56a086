"""Weight averaging of fine-tuned models ("model soups").

Models fine-tuned from the same pretrained weights usually sit in one basin of the loss surface:
averaging their weights tends to generalise better than any one of them, at no inference cost
(Wortsman et al., 2022). moodline's bundled model averages the best checkpoints of two runs.

Example::

    from moodline.training.averaging import average_models
    average_models(["runs/a", "runs/b"], "runs/soup")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moodline.core.durable import staged_directory
from moodline.core.errors import InvalidInputError
from moodline.inference.model_dir import has_tokenizer
from moodline.inference.sources import hub_load, load_hf_tokenizer, require_torch, resolve_local

__all__ = ["average_models"]


def average_models(sources: Sequence[str | Path], output: str | Path, *, force: bool = False) -> Path:
    """Average the weights of ``sources`` (same architecture and labels) into a new model directory."""
    require_torch()
    import torch
    from transformers import AutoModelForSequenceClassification

    if len(sources) < 2:
        raise InvalidInputError("give at least two models to average")
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not force:
        raise InvalidInputError(f"{output} exists and is not empty; pass --force to replace it")
    names = [str(resolve_local(s) or s) for s in sources]
    models = [hub_load(AutoModelForSequenceClassification, name) for name in names]
    _check_compatible(names, models)

    states = [m.state_dict() for m in models]
    averaged: dict[str, Any] = {}
    for key, first in states[0].items():
        if torch.is_floating_point(first):
            averaged[key] = torch.stack([s[key].float() for s in states]).mean(0).to(first.dtype)
        else:  # integer buffers (position ids) are identical by construction
            averaged[key] = first
    target = models[0]
    target.load_state_dict(averaged)

    with staged_directory(output) as work:
        target.save_pretrained(work)
        with_tokenizer = next((n for n in names if not Path(n).is_dir() or has_tokenizer(Path(n))), None)
        if with_tokenizer is None:
            raise InvalidInputError("none of the models has tokenizer files to ship with the average")
        load_hf_tokenizer(with_tokenizer).save_pretrained(work)
        (work / "averaged_from.json").write_text(json.dumps({"sources": names}, indent=2))
    return output


def _check_compatible(names: list[str], models: list[Any]) -> None:
    reference = models[0]
    ref_shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    for name, model in zip(names[1:], models[1:], strict=True):
        if model.config.model_type != reference.config.model_type:
            raise InvalidInputError(
                f"{name} is a {model.config.model_type} model, {names[0]} a "
                f"{reference.config.model_type}: only one architecture can be averaged"
            )
        if model.config.id2label != reference.config.id2label:
            raise InvalidInputError(
                f"{name} has labels {model.config.id2label}, {names[0]} has {reference.config.id2label}"
            )
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if shapes != ref_shapes:
            differing = sorted(k for k in ref_shapes.keys() | shapes.keys() if ref_shapes.get(k) != shapes.get(k))
            raise InvalidInputError(f"{name} and {names[0]} differ in shape at {differing[:3]}")
