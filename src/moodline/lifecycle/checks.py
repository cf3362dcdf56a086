"""Health checks of a served model, each computed from the stored prediction log and feedback.

* ``accuracy``: the model re-scores the latest labelled feedback; it fails when even the upper end of
  the Wilson interval lies below the model's evaluation accuracy less a tolerance, so a handful of
  unlucky labels never alerts.
* ``label_drift``: population stability index (PSI) of predicted labels, latest window vs reference.
* ``confidence_drift``: the mean top probability falling by more than a threshold.
* ``length_drift``: PSI of text length in words, over bins cut at the reference's deciles.
* ``oov_drift``: the share of words the model's tokenizer does not know (mapped to the unknown token
  or cut into three or more pieces) rising by more than a threshold.
* ``model_age``: days since the model version was created.

The reference window is the first predictions the model version made (what it saw when it went
live); the latest window never overlaps it. A window smaller than the minimum is
``insufficient_data``, never a failure.

Example::

    report = Monitor(store, settings, engine, ModelFacts.of(engine, settings)).run()
    report.failing       # names of failing checks
    report.to_dict()     # JSON
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.inference.model_dir import METADATA_FILE, TOKENIZER_FILE, load_metadata, read_registry_facts
from moodline.inference.prediction import Prediction
from moodline.lifecycle.store import LoggedPrediction, Store

__all__ = ["CHECKS", "CheckResult", "ModelFacts", "Monitor", "MonitorReport", "OovMeter", "psi", "wilson_interval"]

Status = Literal["ok", "fail", "insufficient_data"]
CHECKS = ("accuracy", "label_drift", "confidence_drift", "length_drift", "oov_drift", "model_age")
PSI_FLOOR = 1e-4
OOV_PIECES = 3


@dataclass
class CheckResult:
    name: str
    status: Status
    value: float | None
    threshold: float | None
    samples: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelFacts:
    """What the checks compare against: the model's identity, evaluation accuracy and creation time."""

    name: str
    version: str
    registry_version: str | None = None
    eval_accuracy: float | None = None
    created_at: float | None = None
    path: str | None = None

    @classmethod
    def of(cls, engine: Engine, settings: Settings) -> ModelFacts:
        """Facts from the model directory: ``registry.json`` (a registry download) or ``moodline.json``."""
        info = engine.info
        facts = cls(name=info.name, version=info.version, path=info.path)
        directory = Path(info.path) if info.path else None
        registry = read_registry_facts(directory) if directory is not None else None
        if registry is not None:
            facts.name = registry.get("name", facts.name)
            facts.registry_version = str(registry.get("version"))
            facts.eval_accuracy = _float_or_none(registry.get("eval_accuracy"))
            facts.created_at = _float_or_none(registry.get("created_at"))
        if facts.created_at is None and directory is not None and (directory / METADATA_FILE).is_file():
            created = load_metadata(directory).get("created")
            if isinstance(created, str):
                facts.created_at = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        if settings.baseline_accuracy is not None:
            facts.eval_accuracy = settings.baseline_accuracy
        return facts


@dataclass
class MonitorReport:
    checked_at: float
    model: ModelFacts
    checks: list[CheckResult]

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": datetime.fromtimestamp(self.checked_at).astimezone().isoformat(timespec="seconds"),
            "model": asdict(self.model),
            "ok": not self.failing,
            "failing": self.failing,
            "checks": [asdict(c) for c in self.checks],
        }

    def text(self) -> str:
        """A short human report, one line per check (the alert email body)."""
        model = self.model
        version = f" (registry version {model.registry_version})" if model.registry_version else ""
        lines = [f"model {model.name} {model.version}{version}"]
        for check in self.checks:
            mark = {"ok": "ok  ", "fail": "FAIL", "insufficient_data": "n/a "}[check.status]
            lines.append(f"{mark} {check.name:<17} {check.message}")
        return "\n".join(lines)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (sound at small n and near 0 or 1)."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (shares, floored to avoid log 0)."""
    ref = np.maximum(np.asarray(reference, dtype=float), PSI_FLOOR)
    cur = np.maximum(np.asarray(current, dtype=float), PSI_FLOOR)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


class OovMeter:
    """Share of words a model's tokenizer does not know, from its ``tokenizer.json``."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.unknown_ids = {
            token_id for token in ("[UNK]", "<unk>") if (token_id := self.tokenizer.token_to_id(token)) is not None
        }

    def shares(self, texts: Sequence[str]) -> list[float]:
        """Per text: unknown words / words."""
        result = []
        for encoding in self.tokenizer.encode_batch(list(texts), add_special_tokens=False):
            pieces: Counter[int] = Counter()
            unknown: set[int] = set()
            for token_id, word in zip(encoding.ids, encoding.word_ids, strict=True):
                if word is None:
                    continue
                pieces[word] += 1
                if token_id in self.unknown_ids:
                    unknown.add(word)
            oov = sum(1 for word, count in pieces.items() if count >= OOV_PIECES or word in unknown)
            result.append(oov / len(pieces) if pieces else 0.0)
        return result


class Monitor:
    """Runs every check for one served model against the store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        engine: Engine,
        facts: ModelFacts,
        clock: Any = time.time,
        predict: Callable[[list[str]], list[Prediction]] | None = None,
    ) -> None:
        """``predict`` scores feedback texts (default: ``engine.predict``; a server passes its batcher's way)."""
        self.store = store
        self.settings = settings
        self.engine = engine
        self.predict = predict or engine.predict
        self.facts = facts
        self.clock = clock
        tokenizer = Path(engine.info.path or "") / TOKENIZER_FILE
        self.oov = OovMeter(tokenizer) if engine.info.path and tokenizer.is_file() else None

    def run(self) -> MonitorReport:
        s = self.settings
        total = self.store.count_predictions(self.facts.version)
        reference = self.store.first_predictions(self.facts.version, s.monitor_reference)
        recent_size = max(0, min(s.monitor_recent, total - len(reference)))
        recent = self.store.recent_predictions(self.facts.version, recent_size) if recent_size else []
        checks = [
            self.accuracy(),
            self.label_drift(reference, recent),
            self.confidence_drift(reference, recent),
            self.length_drift(reference, recent),
            self.oov_drift(reference, recent),
            self.model_age(),
        ]
        return MonitorReport(self.clock(), self.facts, checks)

    def _windows_too_small(self, name: str, reference: list[Any], recent: list[Any]) -> CheckResult | None:
        minimum = self.settings.monitor_min_samples
        if len(reference) < minimum or len(recent) < minimum:
            return CheckResult(
                name,
                "insufficient_data",
                None,
                None,
                len(recent),
                f"needs {minimum} predictions in the reference and latest windows "
                f"(has {len(reference)} and {len(recent)})",
            )
        return None

    def accuracy(self) -> CheckResult:
        s, facts = self.settings, self.facts
        rows = [r for r in self.store.recent_feedback(s.monitor_recent) if r.label in self.engine.labels]
        if facts.eval_accuracy is None:
            return CheckResult(
                "accuracy",
                "insufficient_data",
                None,
                None,
                len(rows),
                "no evaluation accuracy known for this model (registry tag or MOODLINE_BASELINE_ACCURACY)",
            )
        threshold = facts.eval_accuracy - s.accuracy_tolerance
        if len(rows) < s.accuracy_min_samples:
            return CheckResult(
                "accuracy",
                "insufficient_data",
                None,
                threshold,
                len(rows),
                f"needs {s.accuracy_min_samples} labelled feedback rows (has {len(rows)})",
            )
        predicted = [p.label for p in self.predict([r.text for r in rows])]
        correct = sum(p == r.label for p, r in zip(predicted, rows, strict=True))
        accuracy = correct / len(rows)
        low, high = wilson_interval(correct, len(rows), s.monitor_confidence)
        failing = high < threshold
        return CheckResult(
            "accuracy",
            "fail" if failing else "ok",
            accuracy,
            threshold,
            len(rows),
            f"{accuracy:.3f} on {len(rows)} labelled ({s.monitor_confidence:.0%} CI {low:.3f}-{high:.3f}) "
            f"{'below' if failing else 'vs'} {threshold:.3f} (evaluation {facts.eval_accuracy:.3f} "
            f"- {s.accuracy_tolerance:.3f})",
            {"ci_low": low, "ci_high": high, "eval_accuracy": facts.eval_accuracy, "correct": correct},
        )

    def label_drift(self, reference: list[LoggedPrediction], recent: list[LoggedPrediction]) -> CheckResult:
        small = self._windows_too_small("label_drift", reference, recent)
        if small:
            return small
        labels = self.engine.labels
        ref = Counter(p.label for p in reference)
        cur = Counter(p.label for p in recent)
        ref_share = [ref[label] / len(reference) for label in labels]
        cur_share = [cur[label] / len(recent) for label in labels]
        value = psi(ref_share, cur_share)
        return self._threshold_result(
            "label_drift",
            value,
            self.settings.psi_threshold,
            len(recent),
            "PSI of predicted labels",
            {
                "reference": dict(zip(labels, ref_share, strict=True)),
                "latest": dict(zip(labels, cur_share, strict=True)),
            },
        )

    def confidence_drift(self, reference: list[LoggedPrediction], recent: list[LoggedPrediction]) -> CheckResult:
        small = self._windows_too_small("confidence_drift", reference, recent)
        if small:
            return small
        ref_mean = float(np.mean([p.score for p in reference]))
        cur_mean = float(np.mean([p.score for p in recent]))
        return self._threshold_result(
            "confidence_drift",
            ref_mean - cur_mean,
            self.settings.confidence_drop,
            len(recent),
            f"mean confidence {cur_mean:.3f} (reference {ref_mean:.3f}); drop",
            {"reference_mean": ref_mean, "latest_mean": cur_mean},
        )

    def length_drift(self, reference: list[LoggedPrediction], recent: list[LoggedPrediction]) -> CheckResult:
        small = self._windows_too_small("length_drift", reference, recent)
        if small:
            return small
        ref_len = np.array([len(p.text.split()) for p in reference], dtype=float)
        cur_len = np.array([len(p.text.split()) for p in recent], dtype=float)
        edges = np.unique(np.quantile(ref_len, np.linspace(0.1, 0.9, 9)))
        ref_bins = np.bincount(np.searchsorted(edges, ref_len, side="right"), minlength=len(edges) + 1)
        cur_bins = np.bincount(np.searchsorted(edges, cur_len, side="right"), minlength=len(edges) + 1)
        value = psi(ref_bins / ref_bins.sum(), cur_bins / cur_bins.sum())
        return self._threshold_result(
            "length_drift",
            value,
            self.settings.psi_threshold,
            len(recent),
            f"mean {cur_len.mean():.1f} words (reference {ref_len.mean():.1f}); PSI",
            {"reference_mean_words": float(ref_len.mean()), "latest_mean_words": float(cur_len.mean())},
        )

    def oov_drift(self, reference: list[LoggedPrediction], recent: list[LoggedPrediction]) -> CheckResult:
        if self.oov is None:
            return CheckResult("oov_drift", "insufficient_data", None, None, 0, "the model has no tokenizer.json")
        small = self._windows_too_small("oov_drift", reference, recent)
        if small:
            return small
        ref_share = float(np.mean(self.oov.shares([p.text for p in reference])))
        cur_share = float(np.mean(self.oov.shares([p.text for p in recent])))
        return self._threshold_result(
            "oov_drift",
            cur_share - ref_share,
            self.settings.oov_increase,
            len(recent),
            f"unknown-word share {cur_share:.3f} (reference {ref_share:.3f}); rise",
            {"reference_share": ref_share, "latest_share": cur_share},
        )

    def model_age(self) -> CheckResult:
        created = self.facts.created_at
        limit = self.settings.max_model_age_days
        if created is None:
            return CheckResult("model_age", "insufficient_data", None, limit, 0, "the model's creation time is unknown")
        days = (self.clock() - created) / 86400
        return self._threshold_result("model_age", days, limit, 1, "days since the model was created:", {})

    @staticmethod
    def _threshold_result(
        name: str, value: float, threshold: float, samples: int, what: str, details: dict[str, Any]
    ) -> CheckResult:
        failing = value > threshold
        message = f"{what} {value:.3f} {'above' if failing else 'within'} {threshold:.3f}"
        return CheckResult(name, "fail" if failing else "ok", value, threshold, samples, message, details)


def _float_or_none(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
