"""Distillation: a larger teacher's probabilities, stored per training row, taught to a small student.

A teacher (all-mpnet-base-v2 fine-tuned on a data mix, say) scores the training rows once. Its
probabilities go into a small file keyed by each row's source and text, which can be committed: the
student is then retrained without the teacher's weights, and without the hours the teacher takes on
a CPU. Given the file (``moodline train --soft-labels FILE``), the trainer adds to each covered row's
cross-entropy the KL divergence between the teacher's and the student's distributions at a
temperature (see :func:`distillation_loss`); rows the file does not cover keep the plain loss.

The teacher's distribution covers every label, also for a partial-label source: on an SST-2 phrase
it says how neutral the phrase reads, which the source itself cannot.

Example::

    soft = SoftLabels.load("src/moodline/mixes/sentiment-3way-stage3.teacher.npz")
    probabilities, found = soft.lookup(["meld"], ["Oh my God, that's great!"])
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.durable import durable_path
from moodline.core.errors import DataFileError, InvalidInputError
from moodline.core.progress import progress_bar
from moodline.inference.tokenization import TextTokenizer
from moodline.training.evaluation import model_logits
from moodline.training.mixture import MixtureData

__all__ = ["SoftLabels", "distillation_loss", "rows_to_label", "teacher_probabilities"]

FORMAT = "moodline-soft-labels/1"


def row_key(source: str, text: str) -> int:
    """A row's key: 64 bits of a hash of its source name and text, the same on every machine."""
    digest = hashlib.blake2b(f"{source}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class SoftLabels:
    """A teacher's label probabilities for training rows, looked up by source and text."""

    label_names: list[str]
    keys: np.ndarray  # uint64, sorted, unique
    probabilities: np.ndarray  # float16, (len(keys), len(label_names)), in key order
    about: dict[str, Any] = field(default_factory=dict)  # teacher, mix, seed: how the file was made

    @classmethod
    def from_rows(
        cls,
        label_names: Sequence[str],
        sources: Sequence[str],
        texts: Sequence[str],
        probabilities: np.ndarray,
        about: dict[str, Any] | None = None,
    ) -> SoftLabels:
        if not len(sources) == len(texts) == len(probabilities):
            raise InvalidInputError("sources, texts and probabilities must have one entry per row")
        if probabilities.ndim != 2 or probabilities.shape[1] != len(label_names):
            raise InvalidInputError(f"probabilities must have {len(label_names)} columns, got {probabilities.shape}")
        keys = np.array([row_key(s, t) for s, t in zip(sources, texts, strict=True)], dtype=np.uint64)
        # The same text twice in a source is one row to the teacher; np.unique keeps its first score.
        keys, first = np.unique(keys, return_index=True)
        return cls(list(label_names), keys, probabilities[first].astype(np.float16), dict(about or {}))

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, sources: Sequence[str], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(n, labels)`` as float32 (zeros where missing) and a mask of the rows found."""
        wanted = np.array([row_key(s, t) for s, t in zip(sources, texts, strict=True)], dtype=np.uint64)
        at = np.searchsorted(self.keys, wanted).clip(0, max(0, len(self.keys) - 1))
        found = (self.keys[at] == wanted) if len(self.keys) else np.zeros(len(wanted), dtype=bool)
        probabilities = np.zeros((len(wanted), len(self.label_names)), dtype=np.float32)
        probabilities[found] = self.probabilities[at[found]].astype(np.float32)
        return probabilities, found

    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (a few bytes per row), atomically."""
        header = {"format": FORMAT, "label_names": self.label_names, "about": self.about}
        path = Path(path)
        with durable_path(path) as temporary, temporary.open("wb") as handle:
            np.savez_compressed(handle, keys=self.keys, probabilities=self.probabilities, header=json.dumps(header))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SoftLabels:
        path = Path(path)
        if not path.is_file():
            raise DataFileError(f"{path}: no such soft-label file")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                keys, probabilities = data["keys"], data["probabilities"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataFileError(f"{path}: not a soft-label file ({exc})") from exc
        if header.get("format") != FORMAT:
            raise DataFileError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
        if probabilities.shape != (len(keys), len(header["label_names"])):
            raise DataFileError(f"{path}: {len(keys)} keys but probabilities of shape {probabilities.shape}")
        return cls(list(header["label_names"]), keys, probabilities, header.get("about", {}))


def rows_to_label(data: MixtureData, seed: int | None) -> list[int]:
    """The rows a teacher should score: the first epoch a student seeded ``seed`` draws, or every row.

    The trainer's first epoch draws its rows from ``random.Random(seed)`` before anything else, so
    labelling exactly those covers a one-epoch student run with that seed and the same mix; later
    epochs draw after the first one's shuffle, so a longer run needs every row (``seed`` None).
    """
    if seed is None:
        return list(range(len(data)))
    return sorted(set(data.epoch_indices(random.Random(seed))))


def teacher_probabilities(
    model_dir: str | Path,
    texts: Sequence[str],
    *,
    max_length: int = 128,
    batch_size: int = 64,
    precision: str = "bf16",
    contexts: Sequence[str] | None = None,
) -> np.ndarray:
    """The label probabilities a Hugging Face classifier directory gives ``texts``, ``(n, labels)`` float32.

    The directory's own ``tokenizer.json`` tokenizes (with any normalizer step it was trained with);
    ``contexts`` (one per text, "" for none) go first as their own segment, as ``moodline train
    --context`` reads them. Batches are length-bucketed, and bf16 autocast halves the time on CPUs
    that have it.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from moodline.inference.sources import hub_load

    model = hub_load(AutoModelForSequenceClassification, str(model_dir)).eval()
    tokenizer = TextTokenizer.from_dir(model_dir, max_length=max_length)
    ids = [encoding.ids for encoding in tokenizer.encode(list(texts), contexts)]
    out = np.zeros((len(ids), int(model.config.num_labels)), dtype=np.float32)
    bar = progress_bar(total=len(ids), desc="teacher", unit="text")
    for batch, logits in model_logits(model, ids, tokenizer.pad_id, precision, batch_size):
        out[batch] = torch.softmax(logits, dim=-1).numpy()
        bar.update(len(batch))
    bar.close()
    return out


def distillation_loss(student_logits: Any, teacher_probabilities: Any, temperature: float) -> Any:
    """Per-row KL(teacher || student) at ``temperature``, times temperature squared.

    Both distributions are softened by the temperature (the teacher's by raising its probabilities to
    1/T, the same as dividing its logits by T), so the student also learns how the teacher ranks the
    labels it did not pick; the T squared keeps the gradient's size independent of T (Hinton et al.).
    """
    import torch
    import torch.nn.functional as F

    log_teacher = torch.log(teacher_probabilities.clamp_min(1e-8)) / temperature
    target = torch.softmax(log_teacher, dim=-1)
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    return F.kl_div(log_student, target, reduction="none").sum(-1) * temperature**2
