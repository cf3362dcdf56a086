"""Evaluating a model on labelled data: quality, calibration and speed in one report.

Example::

    from moodline import Engine
    from moodline.core.datafiles import read_labelled
    from moodline.training.evaluation import evaluate
    engine = Engine.load()
    data = read_labelled("sst2/dev.tsv", label_names=engine.labels)
    report = evaluate(engine, data)
    report["accuracy"], report["macro_f1"], report["ece"]
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.datafiles import LabelledData
from moodline.core.errors import InvalidInputError
from moodline.core.progress import progress_bar
from moodline.inference.bucketing import sorted_batches
from moodline.inference.engine import Engine
from moodline.inference.tokenization import pad_batch

__all__ = ["calibration", "classification_report", "evaluate", "model_logits", "score_in_chunks"]

ECE_BINS = 15


def classification_report(true: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, weighted-F1, macro-recall, per-class precision/recall/F1/support, confusion matrix.

    Macro averages run over the classes present in ``true`` (a label the data never has does not
    count as a zero); weighted-F1 weighs each class's F1 by its support.
    """
    k = len(labels)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true), np.asarray(predicted)), 1)
    per_class: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        tp = int(matrix[i, i])
        predicted_i, actual_i = int(matrix[:, i].sum()), int(matrix[i, :].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / actual_i if actual_i else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual_i}
    present = [c for c in per_class.values() if c["support"] > 0]
    total = sum(c["support"] for c in present)
    return {
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "macro_f1": float(np.mean([c["f1"] for c in present])) if present else 0.0,
        "weighted_f1": float(sum(c["f1"] * c["support"] for c in present) / total) if total else 0.0,
        "macro_recall": float(np.mean([c["recall"] for c in present])) if present else 0.0,
        "per_class": per_class,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix.tolist()},
    }


def model_columns(model_labels: Sequence[str], label_names: Sequence[str]) -> list[int]:
    """For each of a dataset's ``label_names``, the model's column for it.

    Sentiment labels are matched by what they mean (``negative`` is ``NEGATIVE`` is ``neg``); other
    labels (emotions) by name, ignoring case. A label the model lacks is an error, not a silent zero.
    """
    from moodline.inference.three_way import is_sentiment, three_way_ids

    if not (is_sentiment(model_labels) and is_sentiment(label_names)):
        by_name = {label.casefold(): index for index, label in enumerate(model_labels)}
        missing = [label for label in label_names if label.casefold() not in by_name]
        if missing:
            raise InvalidInputError(f"the model's labels {list(model_labels)} lack {missing}, which the data has")
        return [by_name[label.casefold()] for label in label_names]
    model_ids, set_ids = three_way_ids(model_labels), three_way_ids(label_names)
    missing = [label for label, marker in zip(label_names, set_ids, strict=True) if marker not in model_ids]
    if missing:
        raise InvalidInputError(f"the model's labels {list(model_labels)} lack {missing}, which the data has")
    return [model_ids.index(marker) for marker in set_ids]


def calibration(
    confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS
) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error over equal-width confidence bins, and the bins themselves."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table: list[dict[str, float]] = []
    ece = 0.0
    for lower, upper in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > lower) & (confidence <= upper)
        count = int(inside.sum())
        accuracy = float(correct[inside].mean()) if count else 0.0
        mean_conf = float(confidence[inside].mean()) if count else 0.0
        ece += count / len(confidence) * abs(accuracy - mean_conf)
        table.append(
            {
                "lower": float(lower),
                "upper": float(upper),
                "count": count,
                "accuracy": accuracy,
                "confidence": mean_conf,
            }
        )
    return float(ece), table


def model_logits(
    model: Any, ids: Sequence[Sequence[int]], pad_id: int, precision: str, batch_size: int
) -> Iterator[tuple[list[int], Any]]:
    """``(row indices, float32 logits)`` per length-bucketed batch of a PyTorch classifier, no gradients.

    For a model still in training (dev scores) or one not exported (a teacher); ``precision`` "bf16"
    runs under bf16 autocast. The caller sets train/eval mode.
    """
    import torch

    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        for batch in sorted_batches([len(x) for x in ids], batch_size):
            input_ids, mask = pad_batch([list(ids[i]) for i in batch], pad_id)
            logits = model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)).logits
            yield batch, logits.float()


def score_in_chunks(engine: Engine, texts: Sequence[str], chunk: int = 256, desc: str = "evaluating") -> np.ndarray:
    """Probabilities for ``texts``, scored ``chunk`` texts per engine call with a progress bar.

    Every evaluation goes through here so that figures agree between commands: int8 activations
    are quantized per engine batch, so how texts are grouped moves a few borderline predictions.
    """
    parts = [np.zeros((0, len(engine.labels)), dtype=np.float32)]
    bar = progress_bar(total=len(texts), desc=desc, unit="text")
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        parts.append(engine.probabilities(part)[0])
        bar.update(len(part))
    bar.close()
    return np.concatenate(parts)


def evaluate(
    engine: Engine, data: LabelledData, *, plots_dir: Path | None = None, batch_size: int = 256
) -> dict[str, Any]:
    """Score ``data`` with ``engine`` and return the full report (and PNG plots if ``plots_dir``)."""
    if list(data.label_names) != list(engine.labels):
        raise InvalidInputError(f"data labels {data.label_names} do not match the model's labels {engine.labels}")
    started = time.perf_counter()
    probabilities = score_in_chunks(engine, data.texts, batch_size)
    elapsed = time.perf_counter() - started
    predicted = probabilities.argmax(1)
    true = np.asarray(data.labels)
    report = classification_report(true.tolist(), predicted.tolist(), engine.labels)
    ece, bins = calibration(probabilities.max(1), predicted == true)
    report.update(
        {
            "model": engine.info.to_dict(),
            "examples": len(data),
            "ece": ece,
            "reliability": bins,
            "throughput_per_second": len(data) / elapsed,
            "seconds": elapsed,
        }
    )
    if plots_dir is not None:
        from moodline.core.plots import plot_confusion_matrix, plot_reliability

        plots_dir.mkdir(parents=True, exist_ok=True)
        plot_confusion_matrix(report["confusion_matrix"]["matrix"], engine.labels, plots_dir / "confusion_matrix.png")
        plot_reliability(bins, ece, plots_dir / "reliability.png")
        report["plots"] = [str(plots_dir / "confusion_matrix.png"), str(plots_dir / "reliability.png")]
    return report
