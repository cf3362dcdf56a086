"""PNG charts: training curve, confusion matrix, reliability diagram.

matplotlib is imported lazily with the non-interactive Agg backend so that headless servers and
tests never need a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moodline.core.durable import durable_path
from moodline.core.extras import require_extra

__all__ = [
    "plot_calibration_grid",
    "plot_confusion_matrix",
    "plot_reliability",
    "plot_training_curve",
    "pyplot",
    "save_figure",
]


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, imported on first use (matplotlib is slow to import)."""
    require_extra("plots", "matplotlib", purpose="writing PNG charts")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, *, dpi: int) -> None:
    """Write ``fig`` as a PNG at ``path``, complete or absent, and free it."""
    try:
        with durable_path(path) as temporary:
            fig.savefig(temporary, dpi=dpi, format="png")
    finally:
        pyplot().close(fig)


def plot_training_curve(history: Sequence[dict[str, Any]], losses: Sequence[tuple[int, float]], path: Path) -> None:
    """Training loss per step (with a moving average) and dev accuracy per epoch."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    if losses:
        steps = [s for s, _ in losses]
        values = [v for _, v in losses]
        window = max(1, len(values) // 50)
        smooth = [
            sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
            for i in range(len(values))
        ]
        ax_loss.plot(steps, values, alpha=0.25, color="tab:blue", label="batch loss")
        ax_loss.plot(steps, smooth, color="tab:blue", label=f"moving average ({window} steps)")
        ax_loss.legend()
    ax_loss.set(title="Training loss", xlabel="optimizer step", ylabel="cross-entropy")
    epochs = [r["epoch"] for r in history]
    ax_acc.plot(epochs, [r["dev_accuracy"] for r in history], marker="o", color="tab:green")
    for record in (r for r in history if float(r["epoch"]).is_integer()):
        ax_acc.annotate(
            f"{record['dev_accuracy']:.3f}",
            (record["epoch"], record["dev_accuracy"]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
        )
    ax_acc.set(title="Dev accuracy", xlabel="epoch", ylabel="accuracy")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path) -> None:
    plt = pyplot()
    size = max(4.0, 1.2 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    top = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
    ax.set(title="Confusion matrix", xlabel="predicted", ylabel="true")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_reliability(bins: Sequence[dict[str, float]], ece: float, path: Path) -> None:
    """Reliability diagram: accuracy vs confidence per bin, with the diagonal of perfect calibration."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    filled = [b for b in bins if b["count"] > 0]
    centres = [(b["lower"] + b["upper"]) / 2 for b in filled]
    width = filled[0]["upper"] - filled[0]["lower"] if filled else 0.1
    ax.bar(centres, [b["accuracy"] for b in filled], width=width * 0.9, color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(centres, [b["confidence"] for b in filled], "o", color="tab:red", label="mean confidence")
    ax.set(title=f"Reliability (ECE {ece:.3f})", xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_calibration_grid(
    curves: Sequence[tuple[str, Sequence[dict[str, float]], float, Sequence[dict[str, float]], float]], path: Path
) -> None:
    """One reliability diagram per dev set, before and after calibration: ``(name, bins, ece, bins, ece)``."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(curves), figsize=(3.2 * len(curves), 6.4), squeeze=False)
    for column, (name, before, ece_before, after, ece_after) in enumerate(curves):
        for row, (bins, ece, when) in enumerate(((before, ece_before, "before"), (after, ece_after, "after"))):
            ax = axes[row][column]
            filled = [b for b in bins if b["count"] > 0]
            centres = [(b["lower"] + b["upper"]) / 2 for b in filled]
            width = filled[0]["upper"] - filled[0]["lower"] if filled else 0.1
            ax.bar(centres, [b["accuracy"] for b in filled], width=width * 0.9, color="tab:blue", alpha=0.8)
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.plot(centres, [b["confidence"] for b in filled], "o", color="tab:red", markersize=3)
            ax.set(title=f"{name}\n{when}: ECE {ece:.3f}", xlim=(0, 1), ylim=(0, 1))
            ax.title.set_fontsize(9)
    fig.supxlabel("confidence (bars: accuracy, dots: mean confidence)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
