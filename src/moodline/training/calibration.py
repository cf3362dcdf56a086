"""Temperature scaling: probabilities that mean what they say.

A fine-tuned classifier is usually over-confident: of the texts it scores at 0.95, fewer than 95 %
are right. Dividing its logits by one temperature ``T > 1`` (fitted on dev data, stored in the
model's ``moodline.json`` and applied by the engine) fixes most of that without changing a single
label, since the argmax is unchanged (Guo et al., 2017, "On Calibration of Modern Neural Networks").

The temperature minimises the negative log-likelihood of the dev labels. Each dev set weighs the
same, whatever its size, so a big set from one domain does not set the temperature for all. A set
that has only some of the labels (SST-2: no neutral) is scored on the probabilities renormalised
over the labels it has, as a two-way answer is.

Example::

    result = fit_temperature([(log_probs, labels, (0, 1, 2))])
    result.temperature          # e.g. 1.4
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from moodline.core.durable import write_atomically
from moodline.inference.model_dir import METADATA_FILE, ONNX_FILE, load_metadata
from moodline.training.mixture import SourceData

__all__ = ["TemperatureFit", "apply_temperature", "calibrate_model", "fit_temperature", "restricted"]

# Temperatures outside this range mean the dev data or the model is broken, not miscalibrated.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0

DevScores = tuple[np.ndarray, Sequence[int], Sequence[int]]  # log-probabilities, true ids, allowed ids
Objective = Literal["nll", "worst-ece"]


@dataclass(frozen=True)
class TemperatureFit:
    temperature: float
    nll_before: float
    nll_after: float


def apply_temperature(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities from log-probabilities (or logits) divided by ``temperature``."""
    scaled = np.asarray(log_probs, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return result


def restricted(probabilities: np.ndarray, allowed: Sequence[int]) -> np.ndarray:
    """Probabilities renormalised over the ``allowed`` label columns (the others set to 0)."""
    out = np.zeros_like(probabilities)
    kept = probabilities[:, list(allowed)]
    out[:, list(allowed)] = kept / kept.sum(axis=1, keepdims=True)
    return out


def _mean_nll(sets: Sequence[DevScores], inverse_temperature: float) -> float:
    total = 0.0
    for log_probs, labels, allowed in sets:
        columns = list(allowed)
        scaled = np.asarray(log_probs, dtype=np.float64)[:, columns] * inverse_temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        picked = scaled[np.arange(len(labels)), [columns.index(y) for y in labels]]
        total += float(np.mean(log_norm - picked))
    return total / len(sets)


def _worst_ece(sets: Sequence[DevScores], temperature: float) -> float:
    from moodline.training.evaluation import calibration

    worst = 0.0
    for log_probs, labels, allowed in sets:
        probabilities = restricted(apply_temperature(log_probs, temperature), allowed)
        ece, _ = calibration(probabilities.max(1), probabilities.argmax(1) == np.asarray(labels))
        worst = max(worst, ece)
    return worst


def fit_temperature(sets: Sequence[DevScores], objective: Objective = "nll") -> TemperatureFit:
    """The temperature that minimises the mean (per set) negative log-likelihood, or the worst set's ECE.

    The NLL is convex in the inverse temperature, so a golden-section search on it finds the optimum.
    ``objective="worst-ece"`` searches a grid (0.01 apart) for the temperature whose worst dev set
    has the lowest expected calibration error: for models whose domains disagree (over-confident on
    one, under-confident on another), where the NLL optimum serves the average and fails one set.
    """
    if not sets or any(len(labels) == 0 for _, labels, _ in sets):
        raise ValueError("fit_temperature needs at least one non-empty dev set")
    if objective not in ("nll", "worst-ece"):
        raise ValueError(f"objective must be 'nll' or 'worst-ece', got {objective!r}")
    if objective == "worst-ece":
        grid = np.round(np.arange(0.5, 3.0 + 1e-9, 0.01), 2)
        best = min(grid, key=lambda t: _worst_ece(sets, float(t)))
        return TemperatureFit(float(best), _mean_nll(sets, 1.0), _mean_nll(sets, 1.0 / float(best)))
    low, high = 1.0 / MAX_TEMPERATURE, 1.0 / MIN_TEMPERATURE
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = _mean_nll(sets, a), _mean_nll(sets, b)
    for _ in range(80):
        if fa < fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = _mean_nll(sets, a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _mean_nll(sets, b)
    inverse = (low + high) / 2.0
    return TemperatureFit(1.0 / inverse, _mean_nll(sets, 1.0), _mean_nll(sets, inverse))


def calibrate_model(
    directory: Path,
    sets: Sequence[SourceData],
    label_names: Sequence[str],
    plots: Path | None = None,
    objective: Objective = "nll",
) -> dict[str, Any]:
    """Fit a temperature for the moodline model in ``directory`` on ``sets`` and store it in its moodline.json.

    Returns the temperature and, per set, the expected calibration error before and after; with
    ``plots`` also writes ``calibration.png`` (reliability diagrams before and after) there.
    """
    from moodline.inference.engine import Engine
    from moodline.inference.three_way import three_way_ids
    from moodline.training.evaluation import calibration, score_in_chunks

    meta = load_metadata(directory)
    engine = Engine.load(directory, backend="onnx", temperature=1.0)
    # Dev labels and model labels are matched by sentiment (neg/neu/pos), whatever their spelling.
    model_ids = three_way_ids(engine.labels)
    to_model = [model_ids.index(marker) for marker in three_way_ids(label_names)]
    scored = []
    for dev in sets:
        probabilities = score_in_chunks(engine, dev.texts, desc=dev.name)
        labels = [to_model[y] for y in dev.labels]
        allowed = sorted(to_model[i] for i in dev.allowed)
        scored.append((dev.name, np.log(np.clip(probabilities, 1e-12, None)), labels, allowed))
    fit = fit_temperature([(log_probs, labels, allowed) for _, log_probs, labels, allowed in scored], objective)
    report: dict[str, Any] = {
        "objective": objective,
        "temperature": fit.temperature,
        "nll_before": fit.nll_before,
        "nll_after": fit.nll_after,
    }
    curves = []
    per_set = {}
    for name, log_probs, labels, allowed in scored:
        figures = []
        for temperature in (1.0, fit.temperature):
            probabilities = restricted(apply_temperature(log_probs, temperature), allowed)
            predicted = probabilities.argmax(1)
            ece, bins = calibration(probabilities.max(1), predicted == np.asarray(labels))
            figures.append((ece, bins))
        per_set[name] = {"ece_before": figures[0][0], "ece_after": figures[1][0], "examples": len(labels)}
        curves.append((name, figures[0][1], figures[0][0], figures[1][1], figures[1][0]))
    report["sets"] = per_set
    meta["temperature"] = round(fit.temperature, 6)
    # The version keys caches (in-process and Redis): new probabilities need a new version.
    content = hashlib.sha256((directory / ONNX_FILE).read_bytes())
    content.update(f"temperature={meta['temperature']}".encode())
    meta["version"] = content.hexdigest()[:12]
    meta["calibration"] = {
        "objective": objective,
        "sets": sorted(per_set),
        "ece": {k: round(v["ece_after"], 6) for k, v in per_set.items()},
    }
    write_atomically(directory / METADATA_FILE, json.dumps(meta, indent=2) + "\n")
    if plots is not None:
        from moodline.core.plots import plot_calibration_grid

        plots.mkdir(parents=True, exist_ok=True)
        plot_calibration_grid(curves, plots / "calibration.png")
        report["plot"] = str(plots / "calibration.png")
    return report
