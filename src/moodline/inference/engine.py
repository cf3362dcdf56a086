"""The inference engine: text in, :class:`~moodline.inference.prediction.Prediction` out, as fast as the CPU allows.

Every moodline feature (CLI, API, transcripts, batch jobs) scores through :class:`Engine`. It owns
tokenization, length bucketing, truncation/chunking and softmax; a backend only maps padded token
ids to logits. Two backends exist:

* ``onnx`` (default): moodline's own model format, a directory with ``model.onnx`` (usually int8),
  ``tokenizer.json`` and ``moodline.json``. Needs only onnxruntime.
* ``transformers``: any Hugging Face sequence-classification model, from a directory or a hub id.

Example::

    engine = Engine.load()                      # the bundled model
    [p] = engine.predict(["It is worth it"])
    p.label, p.score                            # ('POSITIVE', 0.99...)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from moodline.core.errors import InvalidInputError, ModelLoadError
from moodline.core.settings import Settings, get_settings
from moodline.core.texts import check_texts
from moodline.inference.backends import Backend
from moodline.inference.backends.int8_weights import Int8Weights, use_unsigned_weights
from moodline.inference.bucketing import DEFAULT_CALL_COST_TOKENS, sorted_batches
from moodline.inference.model_dir import ONNX_FILE, has_onnx_model, load_metadata
from moodline.inference.prediction import Prediction
from moodline.inference.sources import hub_load, load_hf_tokenizer, require_torch, resolve_local
from moodline.inference.temperature import UNCALIBRATED, Temperature
from moodline.inference.tokenization import TextTokenizer, model_max_length, pad_batch

__all__ = ["Engine", "LongTextMode", "ModelInfo"]

LongTextMode = Literal["truncate", "chunk"]
BackendName = Literal["auto", "onnx", "transformers"]


@dataclass(frozen=True)
class ModelInfo:
    """What a client may want to know about the loaded model."""

    name: str
    version: str
    labels: list[str]
    backend: str
    max_length: int
    quantization: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine:
    """Scores texts with one model; thread-safe for concurrent ``predict`` calls on the ONNX backend."""

    def __init__(
        self,
        backend: Backend,
        tokenizer: TextTokenizer,
        info: ModelInfo,
        *,
        batch_size: int = 32,
        token_budget: int | None = 16384,
        long_text: LongTextMode = "truncate",
        call_cost_tokens: float | None = None,
        calibration: Temperature = UNCALIBRATED,
        wide_backend: Backend | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if long_text not in ("truncate", "chunk"):
            raise InvalidInputError(f"long_text must be 'truncate' or 'chunk', got {long_text!r}")
        self.backend = backend
        # The same model in a session with more threads, for calls made while the rest of the machine
        # idles (see moodline.server.worker_load); predictions are the same with either session.
        self.wide_backend = wide_backend
        self.tokenizer = tokenizer
        self.info = info
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.call_cost_tokens = call_cost_tokens  # None: full calls; else the cheapest cut (see bucketing)
        self.long_text: LongTextMode = long_text
        # Logits are divided by it before the softmax: the calibration stored with the model
        # (moodline.json "temperature", by text length, logit margin and the label answered); labels never
        # change, only how confident they read.
        self.calibration = calibration
        if self.calibration.label_factors and len(self.calibration.label_factors) != len(info.labels):
            raise InvalidInputError(
                f"{len(self.calibration.label_factors)} temperature label factors for {len(info.labels)} labels"
            )

    @property
    def labels(self) -> list[str]:
        return self.info.labels

    @property
    def temperature(self) -> float:
        """The calibration temperature of a text of :data:`~moodline.inference.temperature.REFERENCE_TOKENS` tokens."""
        return self.calibration.value

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        *,
        backend: BackendName = "auto",
        threads: int | None = None,
        max_length: int | None = None,
        spinning: bool = True,
        settings: Settings | None = None,
        wide_threads: int | None = None,
        int8_weights: Int8Weights | None = None,
        calibration: Temperature | None = None,
        **options: Any,
    ) -> Engine:
        """Load ``model``: the bundled one (default), a shipped model's name, a directory, a registry URI
        (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``) or, for transformers, a hub id.

        Every command, the server, hot swap, retraining and the monitor load through here; ``settings``
        say where the registry is (default: the process-wide settings).
        ``spinning=False`` makes ONNX Runtime threads sleep as soon as a call returns (what a server wants).
        ``calibration`` replaces the one stored with a model (moodline.json): ``UNCALIBRATED`` scores
        with raw logits (to fit a new calibration), a fitted one tries it before it is stored.
        ``wide_threads`` (ONNX only, when more than ``threads``) loads the model a second time with that
        many threads: ``predict(..., wide=True)`` runs on it.
        ``int8_weights`` (default: the settings' ``int8_weights``) serves an int8 model's weights signed
        (fastest) or unsigned (the same answers on every CPU; :mod:`~moodline.inference.backends.int8_weights`).
        """
        directory = resolve_local(model, settings)
        if backend == "onnx" or (backend == "auto" and directory is not None and has_onnx_model(directory)):
            if directory is None or not has_onnx_model(directory):
                raise ModelLoadError(f"model {str(model)!r} has no model.onnx; convert it with 'moodline export'")
            choice = int8_weights or (settings or get_settings()).int8_weights
            unsigned = use_unsigned_weights(choice)
            return cls._load_onnx(
                directory, threads, max_length, spinning, wide_threads, unsigned, calibration, **options
            )
        if backend not in ("auto", "transformers"):
            raise InvalidInputError(f"unknown backend {backend!r}; choose auto, onnx or transformers")
        return cls._load_transformers(
            str(directory or model), threads, max_length, calibration=calibration or UNCALIBRATED, **options
        )

    @classmethod
    def for_serving(cls, settings: Settings, model: str | Path | None = None) -> Engine:
        """The engine a server runs: ``model`` (default: ``settings.model``) with the settings' backend,
        threads, batching and long-text mode; idle threads sleep rather than spin unless told."""
        return cls.load(
            model or settings.model,
            settings=settings,
            backend=settings.backend,
            threads=settings.inference_threads(),
            wide_threads=settings.wide_threads(),
            spinning=settings.ort_spinning,
            long_text=settings.long_text,
            batch_size=settings.engine_batch_size,
            token_budget=settings.max_batch_tokens,
            call_cost_tokens=DEFAULT_CALL_COST_TOKENS,  # merged batches: few texts of mixed lengths
        )

    @classmethod
    def _load_onnx(
        cls,
        directory: Path,
        threads: int | None,
        max_length: int | None,
        spinning: bool = True,
        wide_threads: int | None = None,
        unsigned_weights: bool = False,
        calibration: Temperature | None = None,
        **options: Any,
    ) -> Engine:
        from moodline.inference.backends.onnx import OnnxBackend

        meta = load_metadata(directory)
        limit = min(max_length or meta["max_length"], meta["max_length"])
        tokenizer = TextTokenizer.from_dir(directory, max_length=limit, stride=_stride(limit))
        info = ModelInfo(
            name=meta["name"],
            version=meta["version"],
            labels=list(meta["labels"]),
            backend="onnxruntime",
            max_length=limit,
            quantization=meta.get("quantization"),
            path=str(directory),
        )
        options["calibration"] = calibration or Temperature.from_metadata(meta)
        backend = OnnxBackend(directory / ONNX_FILE, threads, spinning, unsigned_weights)
        if wide_threads is not None and wide_threads > backend.threads:
            options["wide_backend"] = OnnxBackend(directory / ONNX_FILE, wide_threads, spinning, unsigned_weights)
        return cls(backend, tokenizer, info, **options)

    @classmethod
    def _load_transformers(cls, source: str, threads: int | None, max_length: int | None, **options: Any) -> Engine:
        require_torch()
        from tokenizers import Tokenizer
        from transformers import AutoModelForSequenceClassification

        from moodline.inference.backends.transformers import TransformersBackend

        hf_tokenizer = load_hf_tokenizer(source)
        if not getattr(hf_tokenizer, "is_fast", False):
            raise ModelLoadError(f"model {source!r} has no fast tokenizer (tokenizer.json); moodline needs one")
        model = hub_load(AutoModelForSequenceClassification, source)
        directory = Path(source)
        limit = (
            model_max_length(directory)
            if directory.is_dir()
            else min(
                int(getattr(model.config, "max_position_embeddings", 512)), int(hf_tokenizer.model_max_length), 512
            )
        )
        limit = min(max_length or limit, limit)
        # Copy the backend tokenizer: TextTokenizer changes its padding/truncation in place.
        tokenizer = TextTokenizer(Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str()), limit, _stride(limit))
        labels = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
        version = hashlib.sha256(model.config.to_json_string().encode()).hexdigest()[:12]
        info = ModelInfo(
            name=str(getattr(model.config, "_name_or_path", "") or source),
            version=version,
            labels=labels,
            backend="transformers",
            max_length=limit,
            path=str(directory) if directory.is_dir() else None,
        )
        return cls(TransformersBackend(model, threads), tokenizer, info, **options)

    def predict(
        self, texts: Sequence[str], *, long_text: LongTextMode | None = None, wide: bool = False
    ) -> list[Prediction]:
        """Score ``texts``; results come back in input order. ``wide``: on the wide session, if loaded."""
        probabilities, truncated, chunks = self.probabilities(texts, long_text=long_text, wide=wide)
        labels = self.labels
        predictions = []
        for row, was_truncated, windows in zip(probabilities, truncated, chunks, strict=True):
            best = int(row.argmax())
            predictions.append(
                Prediction(
                    label=labels[best],
                    score=float(row[best]),
                    scores={label: float(p) for label, p in zip(labels, row, strict=True)},
                    truncated=was_truncated,
                    chunks=windows,
                )
            )
        return predictions

    def probabilities(
        self, texts: Sequence[str], *, long_text: LongTextMode | None = None, wide: bool = False
    ) -> tuple[np.ndarray, list[bool], list[int]]:
        """Label probabilities ``(len(texts), num_labels)``, truncation flags and window counts."""
        mode = long_text or self.long_text
        check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32), [], []
        encoded = self.tokenizer.encode(texts)
        windows: list[list[int]] = []
        owner: list[int] = []
        for index, enc in enumerate(encoded):
            pieces = [enc.ids, *enc.overflow] if mode == "chunk" else [enc.ids]
            windows.extend(pieces)
            owner.extend([index] * len(pieces))
        backend = self.wide_backend if wide and self.wide_backend is not None else self.backend
        window_probs = self._score_windows(windows, backend)
        if mode == "truncate":
            return window_probs, [e.truncated for e in encoded], [1] * len(texts)
        # Average window probabilities weighted by window length: a 10-token tail counts less.
        weights = np.array([len(w) for w in windows], dtype=np.float32)
        sums = np.zeros((len(texts), window_probs.shape[1]), dtype=np.float32)
        np.add.at(sums, np.array(owner), window_probs * weights[:, None])
        totals = np.zeros(len(texts), dtype=np.float32)
        np.add.at(totals, np.array(owner), weights)
        counts = np.bincount(np.array(owner), minlength=len(texts)).tolist()
        return sums / totals[:, None], [False] * len(texts), counts

    def _score_windows(self, windows: list[list[int]], backend: Backend | None = None) -> np.ndarray:
        backend = backend or self.backend
        out = np.empty((len(windows), len(self.labels)), dtype=np.float32)
        for batch in sorted_batches(
            [len(w) for w in windows], self.batch_size, self.token_budget, self.call_cost_tokens
        ):
            ids, mask = pad_batch([windows[i] for i in batch], self.tokenizer.pad_id)
            logits = backend.logits(ids, mask)
            # Lengths only matter (and are only counted) when the temperature depends on them.
            lengths = np.array([len(windows[i]) for i in batch]) if self.calibration.length_exponent else None
            out[batch] = _softmax(self.calibration.scale(logits, lengths))
        return out


def _stride(max_length: int) -> int:
    """Overlap between consecutive windows of a long text, so no sentence is cut without context."""
    return min(64, max_length // 4)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return result
