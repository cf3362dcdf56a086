"""Temperature scaling: probabilities that mean what they say.

A fine-tuned classifier is usually over-confident: of the texts it scores at 0.95, fewer than 95 %
are right. Dividing its logits by one temperature ``T > 1`` (fitted on dev data, stored in the
model's ``moodline.json`` and applied by the engine) fixes most of that without changing a single
label, since the argmax is unchanged (Guo et al., 2017, "On Calibration of Modern Neural Networks").
The ``worst-ece`` objective also fits how the temperature changes with a text's length and with the
margin between its two highest logits (:mod:`moodline.inference.temperature`), for a model whose
domains disagree; ``worst-ece-by-label`` fits, on top of those, one factor per label the model
answers, for a model that is over-confident in one answer and under-confident in another.

The temperature minimises the negative log-likelihood of the dev labels. Each dev set weighs the
same, whatever its size, so a big set from one domain does not set the temperature for all. A set
that has only some of the labels (SST-2: no neutral) is scored on the probabilities renormalised
over the labels it has, as a two-way answer is.

Example::

    result = fit_temperature([ScoredSet(log_probs, labels, (0, 1, 2), lengths)])
    result.temperature          # e.g. 1.4
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from moodline.core.durable import write_atomically
from moodline.core.errors import InvalidInputError
from moodline.inference.model_dir import METADATA_FILE, ONNX_FILE, load_metadata
from moodline.inference.temperature import MAX_LENGTH_EXPONENT, MAX_MARGIN_EXPONENT, UNCALIBRATED, Temperature
from moodline.training.mixture import SourceData

__all__ = [
    "ScoredSet",
    "TemperatureFit",
    "apply_temperature",
    "calibrate_model",
    "described_calibration",
    "fit_temperature",
    "reported_calibration",
    "restricted",
]

# Temperatures outside this range mean the dev data or the model is broken, not miscalibrated.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0
# The worst-ece search: temperatures 0.5..3, length and margin exponents within ±0.3, coarse then fine.
TEMPERATURE_RANGE = (0.5, 3.0)
LENGTH_EXPONENT_RANGE = (-0.3, 0.3)
MARGIN_EXPONENT_RANGE = (-0.3, 0.3)
assert LENGTH_EXPONENT_RANGE[1] <= MAX_LENGTH_EXPONENT and MARGIN_EXPONENT_RANGE[1] <= MAX_MARGIN_EXPONENT

# The by-label search: each label's temperature within this range, moved by these steps in turn.
LABEL_TEMPERATURE_RANGE = (0.3, 3.0)
DESCENT_STEPS = (0.2, 0.1, 0.05, 0.02, 0.01)

Objective = Literal["nll", "worst-ece", "worst-ece-by-label"]
OBJECTIVES: tuple[Objective, ...] = ("nll", "worst-ece", "worst-ece-by-label")


class ScoredSet(NamedTuple):
    """One dev set as the model scored it: log-probabilities, true label ids, the ids the set has,
    and each text's length in tokens (``None``: unknown, no length dependence can be fitted)."""

    log_probs: np.ndarray
    labels: Sequence[int]
    allowed: Sequence[int]
    lengths: np.ndarray | None = None


@dataclass(frozen=True)
class TemperatureFit:
    temperature: float
    nll_before: float
    nll_after: float
    length_exponent: float = 0.0
    margin_exponent: float = 0.0
    label_factors: tuple[float, ...] = ()

    @property
    def calibration(self) -> Temperature:
        return Temperature(self.temperature, self.length_exponent, self.margin_exponent, self.label_factors)


def apply_temperature(log_probs: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """Probabilities from log-probabilities (or logits) divided by ``temperature`` (one, or one per row)."""
    divisor = np.asarray(temperature, dtype=np.float64)
    scaled = np.asarray(log_probs, dtype=np.float64) / (divisor[:, None] if divisor.ndim else divisor)
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


def _mean_nll(sets: Sequence[ScoredSet], inverse_temperature: float) -> float:
    total = 0.0
    for log_probs, labels, allowed, _ in sets:
        columns = list(allowed)
        scaled = np.asarray(log_probs, dtype=np.float64)[:, columns] * inverse_temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        picked = scaled[np.arange(len(labels)), [columns.index(y) for y in labels]]
        total += float(np.mean(log_norm - picked))
    return total / len(sets)


def _per_text(scored: ScoredSet, temperature: Temperature) -> float | np.ndarray:
    if temperature.is_uniform:
        return temperature.value
    # Log-probabilities differ from the logits by one constant per row: the same margins.
    return temperature.per_text(scored.lengths, scored.log_probs)


def _worst_ece(sets: Sequence[ScoredSet], temperature: float | Temperature) -> float:
    from moodline.training.evaluation import calibration

    calibration_ = temperature if isinstance(temperature, Temperature) else Temperature(temperature)
    worst = 0.0
    for scored in sets:
        log_probs, labels, allowed, _ = scored
        probabilities = restricted(apply_temperature(log_probs, _per_text(scored, calibration_)), allowed)
        ece, _ = calibration(probabilities.max(1), probabilities.argmax(1) == np.asarray(labels))
        worst = max(worst, ece)
    return worst


def _grid(low: float, high: float, step: float) -> list[float]:
    return [round(float(v), 3) for v in np.arange(low, high + step / 2, step)]


def _fit_worst_ece(sets: Sequence[ScoredSet]) -> Temperature:
    """The temperature, length exponent (where every set has lengths) and margin exponent whose worst
    set's ECE is lowest.

    A coarse grid (0.05 apart in temperature and length exponent, 0.1 in margin exponent) finds the
    region, a fine one (0.01, 0.01, 0.02) the point; ties go to the smaller exponents and then the
    smaller temperature, so the answer does not wander on flat ground.
    """
    lengths = [0.0]
    if all(s.lengths is not None for s in sets):
        lengths = _grid(*LENGTH_EXPONENT_RANGE, 0.05)
    margins = _grid(*MARGIN_EXPONENT_RANGE, 0.1)

    def rank(c: Temperature) -> tuple[float, float, float, float]:
        return (_worst_ece(sets, c), abs(c.length_exponent), abs(c.margin_exponent), c.value)

    coarse = [Temperature(t, e, m) for t in _grid(*TEMPERATURE_RANGE, 0.05) for e in lengths for m in margins]
    best = min(coarse, key=rank)
    fine_lengths = [0.0] if lengths == [0.0] else _grid(best.length_exponent - 0.05, best.length_exponent + 0.05, 0.01)
    fine = [
        Temperature(t, e, m)
        for t in _grid(max(TEMPERATURE_RANGE[0], best.value - 0.05), min(TEMPERATURE_RANGE[1], best.value + 0.05), 0.01)
        for e in fine_lengths
        for m in _grid(best.margin_exponent - 0.1, best.margin_exponent + 0.1, 0.02)
        if abs(e) <= LENGTH_EXPONENT_RANGE[1] + 1e-9 and abs(m) <= MARGIN_EXPONENT_RANGE[1] + 1e-9
    ]
    return min([best, *fine], key=rank)


def _by_label(point: Sequence[float], labels: int) -> Temperature | None:
    """The calibration at a point of the by-label search: ``labels`` temperatures, then the length and
    margin exponents. The common value is the temperatures' geometric mean, so the factors say how far
    each label's answers stand from it. ``None`` where the point is outside what a calibration allows."""
    temperatures = np.asarray(point[:labels], dtype=np.float64)
    if temperatures.min() < LABEL_TEMPERATURE_RANGE[0] or temperatures.max() > LABEL_TEMPERATURE_RANGE[1]:
        return None
    if abs(point[labels]) > LENGTH_EXPONENT_RANGE[1] + 1e-9 or abs(point[labels + 1]) > MARGIN_EXPONENT_RANGE[1] + 1e-9:
        return None
    value = round(float(np.exp(np.log(temperatures).mean())), 6)
    try:
        return Temperature(
            value, point[labels], point[labels + 1], tuple(round(float(t) / value, 6) for t in temperatures)
        )
    except InvalidInputError:  # a factor beyond MAX_LABEL_FACTOR
        return None


def _descend(start: Sequence[float], cost: Callable[[list[float]], tuple[float, ...]], frozen: set[int]) -> list[float]:
    """Coordinate descent: move one coordinate at a time by each of :data:`DESCENT_STEPS` while the cost
    falls (the coordinates in ``frozen`` stay). Deterministic, and needs no gradient, which the worst
    set's ECE (a maximum of binned sums) does not have."""
    point = [round(float(v), 3) for v in start]
    best = cost(point)
    for step in DESCENT_STEPS:
        improved = True
        while improved:
            improved = False
            for i in range(len(point)):
                if i in frozen:
                    continue
                for delta in (-step, step):
                    candidate = list(point)
                    candidate[i] = round(candidate[i] + delta, 3)
                    score = cost(candidate)
                    if score < best:
                        best, point, improved = score, candidate, True
    return point


def _fit_worst_ece_by_label(sets: Sequence[ScoredSet], start: Temperature) -> Temperature:
    """Label factors on top of the ``worst-ece`` fit ``start``: the temperatures of the labels, the length
    and the margin exponent whose worst set's ECE is lowest.

    Two descents, and the better one wins: one from ``start`` (every label at its temperature), one
    from the labels' NLL optimum (smooth, so a descent finds it), which the worst-set ECE, flat in most
    directions, would not find alone. ``start`` itself competes, so the result is never worse than it.
    """
    labels = int(np.asarray(sets[0].log_probs).shape[1])
    frozen = set() if all(s.lengths is not None for s in sets) else {labels}
    outside = (float("inf"),)  # the cost of a point no calibration may take

    def worst(point: list[float]) -> tuple[float, ...]:
        calibration_ = _by_label(point, labels)
        if calibration_ is None:
            return outside
        spread = sum(abs(math.log(f)) for f in calibration_.label_factors)
        return (
            _worst_ece(sets, calibration_),
            abs(calibration_.length_exponent),
            abs(calibration_.margin_exponent),
            spread,
        )

    def nll(point: list[float]) -> tuple[float, ...]:
        calibration_ = _by_label(point, labels)
        return outside if calibration_ is None else (_mean_nll_of(sets, calibration_),)

    from_start = [start.value] * labels + [start.length_exponent, start.margin_exponent]
    from_nll = _descend([1.0] * labels + [0.0, 0.0], nll, frozen)
    points = [_descend(from_start, worst, frozen), _descend(from_nll, worst, frozen)]
    found = [c for c in (_by_label(p, labels) for p in points) if c is not None]
    return min([start, *found], key=lambda c: (_worst_ece(sets, c), len(c.label_factors)))


def _mean_nll_of(sets: Sequence[ScoredSet], temperature: Temperature) -> float:
    if temperature.is_uniform:
        return _mean_nll(sets, 1.0 / temperature.value)
    total = 0.0
    for scored in sets:
        columns = list(scored.allowed)
        probabilities = restricted(apply_temperature(scored.log_probs, _per_text(scored, temperature)), columns)
        picked = probabilities[np.arange(len(scored.labels)), list(scored.labels)]
        total += float(np.mean(-np.log(np.clip(picked, 1e-12, None))))
    return total / len(sets)


def fit_temperature(sets: Sequence[ScoredSet], objective: Objective = "nll") -> TemperatureFit:
    """The temperature that minimises the mean (per set) negative log-likelihood, or the worst set's ECE.

    The NLL is convex in the inverse temperature, so a golden-section search on it finds the optimum.
    ``objective="worst-ece"`` searches a grid for the temperature whose worst dev set has the lowest
    expected calibration error: for models whose domains disagree (over-confident on one,
    under-confident on another), where the NLL optimum serves the average and fails one set. Where
    every set carries its texts' lengths it also fits the length exponent, so that short and long
    texts can get different temperatures. ``objective="worst-ece-by-label"`` goes on from there to one
    temperature factor per label answered (never a worse worst set than ``worst-ece``).
    """
    sets = [ScoredSet(*s) for s in sets]
    if not sets or any(len(s.labels) == 0 for s in sets):
        raise ValueError("fit_temperature needs at least one non-empty dev set")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if objective != "nll":
        best = _fit_worst_ece(sets)
        if objective == "worst-ece-by-label":
            best = _fit_worst_ece_by_label(sets, best)
        return TemperatureFit(
            best.value,
            _mean_nll(sets, 1.0),
            _mean_nll_of(sets, best),
            best.length_exponent,
            best.margin_exponent,
            best.label_factors,
        )
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


def described_calibration(report: dict[str, Any]) -> str:
    """A :func:`calibrate_model` report's calibration as one formula, its label factors named."""
    return reported_calibration(report).formula(list(report.get("label_factors", {})))


def reported_calibration(report: dict[str, Any]) -> Temperature:
    """The calibration a :func:`calibrate_model` report (or a suite JSON that keeps one) describes."""
    return Temperature(
        report["temperature"],
        report.get("length_exponent", 0.0),
        report.get("margin_exponent", 0.0),
        tuple(report.get("label_factors", {}).values()),
    )


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
    from moodline.training.evaluation import calibration, model_columns, score_in_chunks

    meta = load_metadata(directory)
    engine = Engine.load(directory, backend="onnx", calibration=UNCALIBRATED)
    # Dev labels and model labels are matched by sentiment (neg/neu/pos) whatever their spelling, or by name.
    to_model = model_columns(engine.labels, label_names)
    scored: list[tuple[str, ScoredSet]] = []
    for dev in sets:
        probabilities = score_in_chunks(engine, dev.texts, desc=dev.name)
        labels = [to_model[y] for y in dev.labels]
        allowed = sorted(to_model[i] for i in dev.allowed)
        # The length the engine scores (truncated at its max_length), which is what its temperature sees.
        lengths = np.array([len(encoding.ids) for encoding in engine.tokenizer.encode(list(dev.texts))])
        log_probs = np.log(np.clip(probabilities, 1e-12, None))
        scored.append((dev.name, ScoredSet(log_probs, labels, allowed, lengths)))
    fit = fit_temperature([s for _, s in scored], objective)
    report: dict[str, Any] = {
        "objective": objective,
        "temperature": fit.temperature,
        "length_exponent": fit.length_exponent,
        "margin_exponent": fit.margin_exponent,
        "label_factors": dict(zip(engine.labels, fit.label_factors, strict=True)) if fit.label_factors else {},
        "nll_before": fit.nll_before,
        "nll_after": fit.nll_after,
    }
    curves = []
    per_set = {}
    for name, dev_scores in scored:
        figures = []
        for temperature in (UNCALIBRATED, fit.calibration):
            probabilities = restricted(
                apply_temperature(dev_scores.log_probs, _per_text(dev_scores, temperature)), dev_scores.allowed
            )
            predicted = probabilities.argmax(1)
            ece, bins = calibration(probabilities.max(1), predicted == np.asarray(dev_scores.labels))
            figures.append((ece, bins))
        per_set[name] = {"ece_before": figures[0][0], "ece_after": figures[1][0], "examples": len(dev_scores.labels)}
        curves.append((name, figures[0][1], figures[0][0], figures[1][1], figures[1][0]))
    report["sets"] = per_set
    meta["temperature"] = round(fit.temperature, 6)
    # The version keys caches (in-process and Redis): new probabilities need a new version.
    content = hashlib.sha256((directory / ONNX_FILE).read_bytes())
    content.update(f"temperature={meta['temperature']}".encode())
    terms = {
        "length_exponent": round(fit.length_exponent, 6),
        "margin_exponent": round(fit.margin_exponent, 6),
        "label_factors": [round(f, 6) for f in fit.label_factors],
    }
    for term, value in terms.items():
        meta.pop(f"temperature_{term}", None)
        if value:  # a term the fit left out is not stored, so older readers see the model as before
            meta[f"temperature_{term}"] = value
            content.update(f"{term}={value}".encode())
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
