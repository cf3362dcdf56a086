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
* ``estimated_accuracy``: accuracy and macro-F1 estimated from the calibrated probabilities alone
  (:mod:`moodline.lifecycle.estimation`), no labels needed; fails when the latest window's estimate is
  more than ``estimate_drop`` below its baseline (the estimate on the reference window, or the
  evaluation accuracy). Its details hold every window over time, with the measured accuracy beside
  the estimate where feedback labels exist.
* ``text_drift``: a classifier telling the latest texts from the reference's
  (:mod:`moodline.lifecycle.text_drift`); fails when its ROC-AUC is above ``text_drift_auc`` and above
  every permutation baseline run; the words and example texts that separate them are in its details.

The reference window is the first predictions the model version made (what it saw when it went
live); the latest window never overlaps it. A window smaller than the minimum is
``insufficient_data``, never a failure. Requests that name a ``source`` are also checked per source
(``estimated_accuracy[acme]``, ``text_drift[acme]``, ``label_drift[acme]``), each source against its own
first predictions, so a shift in one customer's traffic is not averaged away.

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
from moodline.lifecycle.estimation import PerformanceEstimate, estimate_performance
from moodline.lifecycle.store import LoggedPrediction, Store
from moodline.lifecycle.text_drift import measure_text_drift

__all__ = [
    "CHECKS",
    "SEGMENT_CHECKS",
    "CheckResult",
    "ModelFacts",
    "Monitor",
    "MonitorReport",
    "OovMeter",
    "base_name",
    "psi",
    "wilson_interval",
]

Status = Literal["ok", "fail", "insufficient_data"]
CHECKS = (
    "accuracy",
    "estimated_accuracy",
    "label_drift",
    "confidence_drift",
    "length_drift",
    "oov_drift",
    "text_drift",
    "model_age",
)
SEGMENT_CHECKS = ("estimated_accuracy", "label_drift", "text_drift")
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
    segment: str | None = None  # the request source this result is about (None: all traffic)

    def explanation(self) -> list[str]:
        """Lines that say why a drift happened (the words and texts behind it), for alerts and reports."""
        lines = []
        words = self.details.get("recent_words") or []
        if words:
            lines.append("Words that mark the latest texts (share of latest / reference texts containing them):")
            lines.append(
                "  " + ", ".join(f"{w['word']} ({w['recent_share']:.0%} / {w['reference_share']:.0%})" for w in words)
            )
        rarer = self.details.get("reference_words") or []
        if rarer:
            lines.append("Words that became rarer: " + ", ".join(w["word"] for w in rarer))
        examples = self.details.get("examples") or []
        if examples:
            lines.append("Latest texts most unlike the reference:")
            lines.extend(f"  - {text}" for text in examples)
        return lines


def base_name(name: str) -> str:
    """``text_drift[acme]`` -> ``text_drift``: a check's name without its segment."""
    return name.split("[", 1)[0]


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
            lines.append(f"{mark} {check.name:<18} {check.message}")
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
        reference, recent = self._windows(None)
        checks = [
            self.accuracy(),
            self.estimated_accuracy(reference, recent, history=True),
            self.label_drift(reference, recent),
            self.confidence_drift(reference, recent),
            self.length_drift(reference, recent),
            self.oov_drift(reference, recent),
            self.text_drift(reference, recent),
            self.model_age(),
        ]
        if s.monitor_segments:
            for source, _count in self.store.sources(self.facts.version, s.monitor_segments):
                seg_reference, seg_recent = self._windows(source)
                for check in (
                    self.estimated_accuracy(seg_reference, seg_recent),
                    self.label_drift(seg_reference, seg_recent),
                    self.text_drift(seg_reference, seg_recent),
                ):
                    check.name, check.segment = f"{check.name}[{source}]", source
                    checks.append(check)
        return MonitorReport(self.clock(), self.facts, checks)

    def _windows(self, source: str | None) -> tuple[list[LoggedPrediction], list[LoggedPrediction]]:
        """The reference (first predictions) and latest windows of the model version, or of one source."""
        s, version = self.settings, self.facts.version
        total = self.store.count_predictions(version, source)
        reference = self.store.first_predictions(version, s.monitor_reference, source)
        recent_size = max(0, min(s.monitor_recent, total - len(reference)))
        recent = self.store.recent_predictions(version, recent_size, source) if recent_size else []
        return reference, recent

    def _estimate(self, rows: Sequence[LoggedPrediction]) -> PerformanceEstimate:
        labels = self.engine.labels
        matrix = np.array([[row.scores.get(label, 0.0) for label in labels] for row in rows], dtype=float)
        return estimate_performance(matrix, labels, confidence=self.settings.monitor_confidence)

    def _measured(self, rows: Sequence[LoggedPrediction]) -> dict[str, Any] | None:
        """Accuracy from the feedback labels given to these logged predictions, when there are any."""
        labels = self.store.feedback_labels([row.id for row in rows])
        if not labels:
            return None
        correct = sum(labels[row.id] == row.label for row in rows if row.id in labels)
        low, high = wilson_interval(correct, len(labels), self.settings.monitor_confidence)
        return {"accuracy": correct / len(labels), "labelled": len(labels), "low": low, "high": high}

    def estimate_history(self) -> list[dict[str, Any]]:
        """The estimate of each window of ``monitor_recent`` predictions in log order (the latest
        ``monitor_windows`` of them; a last, partial one counts from ``monitor_min_samples``)."""
        s, version = self.settings, self.facts.version
        size = s.monitor_recent
        total = self.store.count_predictions(version)
        starts = list(range(0, total, size))
        if starts and total - starts[-1] < s.monitor_min_samples:
            starts.pop()
        history = []
        for start in starts[-s.monitor_windows :]:
            rows = self.store.prediction_slice(version, start, size)
            history.append(
                {
                    "first": start + 1,
                    "last": start + len(rows),
                    "from": rows[0].created_at,
                    "to": rows[-1].created_at,
                    "estimate": self._estimate(rows).to_dict(),
                    "measured": self._measured(rows),
                }
            )
        return history

    def estimated_accuracy(
        self,
        reference: list[LoggedPrediction],
        recent: list[LoggedPrediction],
        *,
        history: bool = False,
    ) -> CheckResult:
        s, facts = self.settings, self.facts
        details: dict[str, Any] = {"windows": self.estimate_history()} if history else {}
        small = self._windows_too_small("estimated_accuracy", reference, recent)
        if small:
            small.details = details
            return small
        latest = self._estimate(recent)
        reference_estimate = self._estimate(reference)
        if s.estimate_baseline == "evaluation":
            if facts.eval_accuracy is None:
                return CheckResult(
                    "estimated_accuracy",
                    "insufficient_data",
                    latest.accuracy,
                    None,
                    len(recent),
                    "MOODLINE_ESTIMATE_BASELINE=evaluation but no evaluation accuracy is known for this model",
                    {**details, "estimate": latest.to_dict()},
                )
            baseline, baseline_kind = facts.eval_accuracy, "evaluation accuracy"
        else:
            baseline, baseline_kind = reference_estimate.accuracy, "estimate on the reference window"
        threshold = baseline - s.estimate_drop
        failing = latest.accuracy < threshold
        measured = self._measured(recent)
        side = (
            f"; measured {measured['accuracy']:.3f} on {measured['labelled']} labelled" if measured is not None else ""
        )
        message = (
            f"estimated {latest.accuracy:.3f} ({s.monitor_confidence:.0%} band {latest.accuracy_low:.3f}-"
            f"{latest.accuracy_high:.3f}), macro-F1 {latest.macro_f1:.3f}, on {latest.samples} predictions{side}; "
            f"{'below' if failing else 'vs'} {threshold:.3f} ({baseline_kind} {baseline:.3f} - {s.estimate_drop:.3f})"
        )
        details.update(
            {
                "estimate": latest.to_dict(),
                "reference_estimate": reference_estimate.to_dict(),
                "baseline": baseline,
                "baseline_kind": s.estimate_baseline,
                "eval_accuracy": facts.eval_accuracy,
                "measured": measured,
            }
        )
        return CheckResult(
            "estimated_accuracy", "fail" if failing else "ok", latest.accuracy, threshold, len(recent), message, details
        )

    def text_drift(self, reference: list[LoggedPrediction], recent: list[LoggedPrediction]) -> CheckResult:
        small = self._windows_too_small("text_drift", reference, recent)
        if small:
            return small
        s = self.settings
        drift = measure_text_drift(
            [p.text for p in reference], [p.text for p in recent], permutations=s.text_drift_permutations
        )
        failing = drift.auc > s.text_drift_auc and drift.auc > drift.permutation_max
        words = ", ".join(w.word for w in drift.recent_words[:5])
        message = (
            f"ROC-AUC {drift.auc:.3f} of telling latest from reference texts (permutation baseline max "
            f"{drift.permutation_max:.3f}) {'above' if failing else 'within'} {s.text_drift_auc:.3f}"
            + (f"; marked by: {words}" if failing and words else "")
        )
        return CheckResult(
            "text_drift",
            "fail" if failing else "ok",
            drift.auc,
            s.text_drift_auc,
            len(recent),
            message,
            drift.to_dict(),
        )

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
