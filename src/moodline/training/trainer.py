"""Fine-tuning a Hugging Face encoder for sentence classification.

Length-bucketed batches, gradient accumulation, linear warmup and decay, early stopping on the dev
score, resumable checkpoints per epoch (and every ``save_steps`` optimizer steps), a fixed seed, a
progress bar with rate and ETA, and at the end a model directory with ``metrics.json`` and
``training_curve.png``.

The data is one labelled file (with a dev file or a held-out share of it), or a data mix of several
sources (:mod:`moodline.training.mixture`): each epoch draws every source by its weight, and a source that
has only some of the labels (SST-2: no neutral) is taught through a loss over the labels it has.
With several dev sets the checkpoint is chosen by their mean macro-F1.

Example::

    from moodline.training.trainer import TrainingArguments, train
    args = TrainingArguments(train_file="sst2/train.tsv", output_dir="out", limit=2000, epochs=1)
    result = train(args)
    print(result["best_dev_accuracy"])
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from moodline.core.datafiles import LabelledData, read_labelled, split_holdout
from moodline.core.durable import move_durably, staged_directory, write_atomically
from moodline.core.errors import InvalidInputError
from moodline.core.progress import progress_bar
from moodline.inference.bucketing import shuffled_bucket_batches
from moodline.inference.model_dir import HF_MODEL_FILES, HF_TOKENIZER_FILES, TOKENIZER_FILE
from moodline.inference.sources import hub_load, load_hf_tokenizer, require_torch, resolve_local
from moodline.inference.tokenization import TextTokenizer, dropping_final_full_stop, pad_batch
from moodline.training.distillation import SoftLabels, distillation_loss
from moodline.training.evaluation import classification_report, model_logits
from moodline.training.mixture import DataMixture, MixtureData, SourceData

__all__ = ["Trainer", "TrainingArguments", "load_training_data", "train"]

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"


@dataclass
class TrainingArguments:
    """Everything one training run depends on; validated on creation with errors naming the field."""

    output_dir: str
    train_file: str | None = None
    # Labelled rows already in memory (retraining on base data plus feedback), instead of a file.
    train_rows: LabelledData | None = field(default=None, repr=False)
    mixture: str | None = None
    data_root: str | None = None
    exclude_sources: list[str] = field(default_factory=list)
    base_model: str = DEFAULT_BASE_MODEL
    dev_file: str | None = None
    dev_fraction: float = 0.1
    text_column: str = "sentence"
    label_column: str = "label"
    label_names: list[str] | None = None
    data_format: str | None = None
    limit: int | None = None
    epochs: int = 3
    batch_size: int = 32
    gradient_accumulation: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_length: int = 128
    patience: int = 2
    eval_steps: int | None = None
    seed: int = 42
    threads: int | None = None
    keep_checkpoints: int = 2
    save_steps: int | None = None
    punctuation_dropout: float = 0.0
    drop_final_full_stop: bool = False
    # Read each conversation line of a mix with the line before it as a first segment (mixture.previous_utterance).
    context: bool = False
    # A teacher's probabilities per training row (moodline.training.distillation), taught beside the labels.
    soft_labels: str | None = None
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    precision: str = "fp32"
    freeze_embeddings: bool = False
    resume: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if sum(source is not None for source in (self.train_file, self.train_rows, self.mixture)) != 1:
            raise InvalidInputError(
                "give either train_file (one labelled file), train_rows (labelled rows) or mixture (a data-mix file)"
            )
        if self.exclude_sources and self.mixture is None:
            raise InvalidInputError("exclude_sources needs a mixture")
        if self.context and self.mixture is None:
            raise InvalidInputError("context needs a mixture whose conversation sources name a dialogue_column")
        if self.precision not in ("fp32", "bf16"):
            raise InvalidInputError(f"precision must be fp32 or bf16, got {self.precision!r}")
        if not 0.0 <= self.punctuation_dropout <= 1.0:
            raise InvalidInputError(f"punctuation_dropout must be in [0, 1], got {self.punctuation_dropout}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise InvalidInputError(f"distill_weight must be in [0, 1], got {self.distill_weight}")
        if not self.distill_temperature > 0:
            raise InvalidInputError(f"distill_temperature must be positive, got {self.distill_temperature}")
        if self.save_steps is not None and self.save_steps < 1:
            raise InvalidInputError(f"save_steps must be at least 1, got {self.save_steps}")
        positive = ("epochs", "batch_size", "gradient_accumulation", "max_length", "keep_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise InvalidInputError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise InvalidInputError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.patience < 0:
            raise InvalidInputError(f"patience must be >= 0 (0 disables early stopping), got {self.patience}")
        if self.eval_steps is not None and self.eval_steps < 1:
            raise InvalidInputError(f"eval_steps must be at least 1, got {self.eval_steps}")
        if self.limit is not None and self.limit < 2:
            raise InvalidInputError(f"limit must be at least 2 rows, got {self.limit}")
        if self.threads is not None and self.threads < 1:
            raise InvalidInputError(f"threads must be at least 1, got {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        """The arguments as JSON values (metrics.json, tracked runs); in-memory rows appear as their count."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in {"extra", "train_rows"}}
        if self.train_rows is not None:
            values["train_rows"] = len(self.train_rows)
        return values


EvaluationCallback = Callable[[dict[str, Any]], None]


def train(args: TrainingArguments, on_evaluation: EvaluationCallback | None = None) -> dict[str, Any]:
    """Run one fine-tuning job and return the metrics also written to ``metrics.json``.

    ``on_evaluation`` is called with every dev evaluation record (epoch, step, loss, accuracy).
    """
    require_torch()
    return Trainer(args, on_evaluation).run()


class Trainer:
    """One training run: data, model, optimizer and the resumable state that ties them together."""

    def __init__(self, args: TrainingArguments, on_evaluation: EvaluationCallback | None = None) -> None:
        import torch

        self.args = args
        self.on_evaluation = on_evaluation
        self.output = Path(args.output_dir)
        self.staging = self.output / ".staging"
        self.train_data, self.dev_sets, self.dev_source = load_training_data(args)
        torch.set_num_threads(args.threads or os.cpu_count() or 1)
        _seed_everything(args.seed)

        checkpoint = _latest_checkpoint(self.output) if args.resume else None
        if args.resume and checkpoint is None:
            raise InvalidInputError(f"--resume: no checkpoint under {self.output / CHECKPOINTS}")
        if checkpoint is None and self.output.exists() and any(self.output.iterdir()):
            raise InvalidInputError(f"{self.output} is not empty; pick a new directory or pass --resume")
        self.staging.mkdir(parents=True, exist_ok=True)
        if checkpoint is not None:
            _restore_staging(self.output, self.staging)

        self.model, self.tokenizer = _load_model_and_tokenizer(
            args, self.train_data.label_names, self.staging, checkpoint
        )
        if args.freeze_embeddings:
            self.model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
        if args.context and not self.train_data.has_contexts:
            raise InvalidInputError(f"--context: no source of {args.mixture} names a dialogue_column")
        self.train_ids = [
            e.ids
            for e in self.tokenizer.encode(self.train_data.texts, self.train_data.contexts if args.context else None)
        ]
        self.dev_ids = [
            [e.ids for e in self.tokenizer.encode(dev.texts, dev.contexts if args.context else None)]
            for dev in self.dev_sets
        ]
        self.lengths = [len(ids) for ids in self.train_ids]
        self.final_marks = {
            token for token in (self.tokenizer.token_id("."), self.tokenizer.token_id("!")) if token is not None
        }
        # Row mask of the labels each source has: the loss of a partial-label source ignores the rest.
        allowed = torch.zeros((len(self.train_data.sources), len(self.train_data.label_names)), dtype=torch.bool)
        for index, labels in enumerate(self.train_data.allowed):
            allowed[index, list(labels)] = True
        self.allowed = allowed
        self.partial = not bool(allowed.all())
        self.teacher, self.taught = self._soft_labels()

        rows_per_epoch = sum(r["rows_per_epoch"] for r in self.train_data.summary())
        batches = math.ceil(rows_per_epoch / args.batch_size)
        total_steps = math.ceil(batches / args.gradient_accumulation) * args.epochs
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, args.weight_decay), lr=args.learning_rate)
        warmup = int(total_steps * args.warmup_ratio)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _linear_warmup_decay(warmup, total_steps))

        self.state: dict[str, Any] = {
            "epoch": 0,
            "position": 0,
            "step": 0,
            "history": [],
            "losses": [],
            "best": -1.0,
            "bad_epochs": 0,
            "epoch_loss": 0.0,
            "epoch_seen": 0,
        }
        if checkpoint is not None:
            saved = torch.load(checkpoint / STATE_FILE, weights_only=False)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            self.state = {"position": 0, "epoch_loss": 0.0, "epoch_seen": 0, **saved["state"]}
            _restore_rng(saved["rng"])

    def run(self) -> dict[str, Any]:
        args, state = self.args, self.state
        started = time.perf_counter()
        rng = random.Random(args.seed)
        for _ in range(state["epoch"]):  # replay the draws and shuffles of finished epochs so a resume matches
            self._epoch_batches(rng)
        for epoch in range(state["epoch"] + 1, args.epochs + 1):
            if args.patience and state["bad_epochs"] >= args.patience:
                break
            best_before_epoch = state.setdefault("best_before_epoch", state["best"])
            self._train_epoch(epoch, self._epoch_batches(rng))
            state["epoch"] = epoch
            state["position"] = 0
            state["bad_epochs"] = 0 if state["best"] > best_before_epoch else state["bad_epochs"] + 1
            state.pop("best_before_epoch", None)
            self._checkpoint()

        best = max(state["history"], key=lambda r: r["dev_score"])
        metrics = {
            "base_model": args.base_model,
            "label_names": self.train_data.label_names,
            "train_rows": len(self.train_data),
            "dev_rows": sum(len(dev) for dev in self.dev_sets),
            "dev_source": self.dev_source,
            "best_dev_score": state["best"],
            "best_dev_accuracy": best["dev_accuracy"],
            "best_epoch": best["epoch"],
            "best_step": best["step"],
            "epochs_run": state["epoch"],
            "steps": state["step"],
            "history": state["history"],
            "train_seconds_this_run": round(time.perf_counter() - started, 1),
            "arguments": args.to_dict(),
        }
        if self.teacher is not None:
            metrics["distillation"] = {
                "soft_labels": args.soft_labels,
                "rows_covered": int(self.taught.sum()),
                "weight": args.distill_weight,
                "temperature": args.distill_temperature,
            }
        if args.mixture:
            metrics["sources"] = self.train_data.summary()
            metrics["dev_sets"] = best.get("dev_sets", {})
        _publish(self.output, self.staging, metrics, state["losses"])
        return metrics

    def _epoch_batches(self, rng: random.Random) -> list[list[int]]:
        """This epoch's batches of row indices: each source drawn by its weight, then length-bucketed."""
        rows = self.train_data.epoch_indices(rng)
        buckets = shuffled_bucket_batches([self.lengths[i] for i in rows], self.args.batch_size, rng)
        return [[rows[i] for i in batch] for batch in buckets]

    def _checkpoint(self) -> None:
        _save_checkpoint(
            self.output,
            self.state["step"],
            self.model,
            self.optimizer,
            self.scheduler,
            self.state,
            self.args.keep_checkpoints,
        )

    def _train_epoch(self, epoch: int, batches: list[list[int]]) -> None:
        import torch

        args, state, model = self.args, self.state, self.model
        model.train()
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        bar.update(state["position"])
        for number, batch in enumerate(batches, start=1):
            if number <= state["position"]:  # done before the interruption this run resumes from
                continue
            ids, mask = pad_batch(self._batch_ids(batch, epoch, number), self.tokenizer.pad_id)
            labels = torch.tensor([self.train_data.labels[i] for i in batch])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
            loss_value = self._loss(logits.float(), labels, batch)
            (loss_value / args.gradient_accumulation).backward()
            loss = loss_value.item()
            state["epoch_loss"] += loss * len(batch)
            state["epoch_seen"] += len(batch)
            state["position"] = number
            if number % args.gradient_accumulation == 0 or number == len(batches):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["losses"].append((state["step"], loss))
                mean_loss = state["epoch_loss"] / state["epoch_seen"]
                if args.eval_steps and state["step"] % args.eval_steps == 0 and number < len(batches):
                    bar.write(self._evaluate(epoch - 1 + number / len(batches), mean_loss))
                if args.save_steps and state["step"] % args.save_steps == 0 and number < len(batches):
                    self._checkpoint()
            bar.update(1)
            bar.set_postfix(
                loss=f"{state['epoch_loss'] / state['epoch_seen']:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}"
            )
        bar.write(self._evaluate(epoch, state["epoch_loss"] / max(1, state["epoch_seen"])))
        state["epoch_loss"], state["epoch_seen"] = 0.0, 0
        bar.close()

    def _batch_ids(self, batch: list[int], epoch: int, number: int) -> list[list[int]]:
        """The batch's token ids, each text's final full stop or exclamation mark dropped with ``punctuation_dropout``.

        Why: in dialogue data a sentence that ends in a full stop is mostly neutral (DailyDialog 83 %,
        MELD 62 %), and a model learns that shortcut: "The battery died after two days, a complete
        waste of money." read neutral, the same words without the full stop negative. Dropping the
        final mark at random leaves the words to decide. Seeded by epoch and batch, so a resumed run
        draws the same.
        """
        rows = [self.train_ids[i] for i in batch]
        if not self.args.punctuation_dropout or not self.final_marks:
            return rows
        rng = random.Random(self.args.seed * 1_000_003 + epoch * 100_003 + number)
        # ids end with [SEP]: the final mark, if any, is the token before it.
        return [
            ids[:-2] + ids[-1:]
            if len(ids) > 3 and ids[-2] in self.final_marks and rng.random() < self.args.punctuation_dropout
            else ids
            for ids in rows
        ]

    def _soft_labels(self) -> tuple[Any, Any]:
        """The teacher's probabilities per training row and which rows have them; (None, None) without."""
        import torch

        if self.args.soft_labels is None:
            return None, None
        soft = SoftLabels.load(self.args.soft_labels)
        if soft.label_names != self.train_data.label_names:
            data_labels = self.train_data.label_names
            raise InvalidInputError(
                f"{self.args.soft_labels}: labels {soft.label_names} differ from the data's {data_labels}"
            )
        names = [self.train_data.sources[index].name for index in self.train_data.source_of]
        probabilities, found = soft.lookup(names, self.train_data.texts)
        if not found.any():
            raise InvalidInputError(f"{self.args.soft_labels}: covers none of the training rows (another mix?)")
        return torch.from_numpy(probabilities), torch.from_numpy(found)

    def _loss(self, logits: Any, labels: Any, batch: list[int]) -> Any:
        """Cross-entropy over the labels each row's source has; with soft labels, mixed with distillation."""
        import torch
        import torch.nn.functional as F

        hard_logits = logits
        if self.partial:
            sources = torch.tensor([self.train_data.source_of[i] for i in batch])
            hard_logits = logits.masked_fill(~self.allowed[sources], float("-inf"))
        if self.teacher is None:
            return F.cross_entropy(hard_logits, labels)
        rows = torch.tensor(batch)
        covered = self.taught[rows]
        per_row = F.cross_entropy(hard_logits, labels, reduction="none")
        if covered.any():
            weight = self.args.distill_weight
            soft = distillation_loss(logits[covered], self.teacher[rows[covered]], self.args.distill_temperature)
            per_row = per_row.masked_scatter(covered, (1 - weight) * per_row[covered] + weight * soft)
        return per_row.mean()

    def _evaluate(self, epoch_position: float, train_loss: float) -> str:
        """Score the dev sets, keep the model if it is the best so far; return a log line."""
        scores = {
            dev.name: _dev_scores(self.model, ids, dev, self.tokenizer.pad_id, self.args.precision)
            for dev, ids in zip(self.dev_sets, self.dev_ids, strict=True)
        }
        accuracy = sum(s["accuracy"] for s in scores.values()) / len(scores)
        # One dev file: accuracy chooses the checkpoint, as it always has; several: their mean macro-F1.
        score = accuracy if not self.args.mixture else sum(s["macro_f1"] for s in scores.values()) / len(scores)
        record: dict[str, Any] = {
            "epoch": round(epoch_position, 3),
            "step": self.state["step"],
            "train_loss": train_loss,
            "dev_accuracy": accuracy,
            "dev_score": score,
        }
        if self.args.mixture:
            record["dev_sets"] = scores
        self.state["history"].append(record)
        improved = score > self.state["best"]
        if improved:
            self.state["best"] = score
            _save_model(self.model, self.staging / "best")
        if self.on_evaluation is not None:
            self.on_evaluation(record)
        measure = "score" if self.args.mixture else "accuracy"
        detail = "".join(f", {name} F1 {s['macro_f1']:.4f}" for name, s in scores.items()) if self.args.mixture else ""
        return f"epoch {record['epoch']}: train loss {train_loss:.4f}, dev {measure} {score:.4f}{detail}" + (
            " (best)" if improved else ""
        )


def load_training_data(args: TrainingArguments) -> tuple[MixtureData, list[SourceData], str]:
    """Training rows, dev sets and a description of where the dev data came from."""
    if args.mixture:
        mixture = DataMixture.load(args.mixture, args.data_root).without(args.exclude_sources)
        if mixture.label_names and args.label_names and list(args.label_names) != mixture.label_names:
            raise InvalidInputError(f"--labels {args.label_names} differ from the data mix's {mixture.label_names}")
        dev_sets = mixture.read_dev()
        if not dev_sets:
            raise InvalidInputError(f"{args.mixture}: no [[dev]] sets to choose checkpoints with")
        return mixture.read_training(args.limit), dev_sets, ", ".join(d.name for d in dev_sets)

    def read(path: str, label_names: list[str] | None, limit: int | None) -> LabelledData:
        return read_labelled(
            path,
            text_column=args.text_column,
            label_column=args.label_column,
            label_names=label_names,
            fmt=args.data_format,
            limit=limit,
        )

    if args.train_rows is not None:
        data = args.train_rows
        if args.label_names and list(args.label_names) != data.label_names:
            raise InvalidInputError(f"label_names {args.label_names} differ from the rows' {data.label_names}")
        if args.limit is not None:
            data = data.subset(range(min(args.limit, len(data))))
    else:
        assert args.train_file is not None
        data = read(args.train_file, args.label_names, args.limit)
    if args.dev_file:
        train_data, dev_data, where = data, read(args.dev_file, data.label_names, None), args.dev_file
    else:
        train_data, dev_data = split_holdout(data, args.dev_fraction, args.seed)
        where = f"held-out {args.dev_fraction:.0%} of the training file"
    every_label = tuple(range(len(data.label_names)))
    source = SourceData("train", train_data.texts, train_data.labels, every_label)
    dev = SourceData("dev", dev_data.texts, dev_data.labels, every_label)
    return MixtureData(list(data.label_names), [source], [1.0]), [dev], where


def _load_model_and_tokenizer(
    args: TrainingArguments, label_names: Sequence[str], staging: Path, checkpoint: Path | None
) -> tuple[Any, TextTokenizer]:
    from transformers import AutoModelForSequenceClassification

    source = checkpoint if checkpoint is not None else resolve_local(args.base_model) or args.base_model
    if checkpoint is None:
        # Save the base tokenizer next to the model so the output directory is self-contained.
        load_hf_tokenizer(str(source)).save_pretrained(staging / "tokenizer")
        _normalise_tokenizer(staging / "tokenizer" / TOKENIZER_FILE, args.drop_final_full_stop)
    model = hub_load(
        AutoModelForSequenceClassification,
        str(source if checkpoint is None else checkpoint / "model"),
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
        ignore_mismatched_sizes=True,
    )
    tokenizer = TextTokenizer.from_dir(staging / "tokenizer", max_length=args.max_length)
    return model, tokenizer


def _normalise_tokenizer(path: Path, drop_final_full_stop: bool = False) -> None:
    """Drop fixed padding/truncation from a saved tokenizer.json (callers pad per batch).

    With ``drop_final_full_stop`` the tokenizer also drops a text's final full stop, in training and,
    being saved with the model, wherever the model is used.
    """
    data = json.loads(path.read_text())
    data["padding"] = None
    data["truncation"] = None
    if drop_final_full_stop:
        data = dropping_final_full_stop(data)
    path.write_text(json.dumps(data, ensure_ascii=False))


def _param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _linear_warmup_decay(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def _dev_scores(model: Any, ids: list[list[int]], dev: SourceData, pad_id: int, precision: str) -> dict[str, float]:
    """Accuracy and macro-F1 on one dev set, the argmax taken over the labels that set has."""
    model.eval()
    predicted = [0] * len(ids)
    allowed = list(dev.allowed)
    for batch, logits in model_logits(model, ids, pad_id, precision, batch_size=128):
        choice = logits[:, allowed].argmax(-1).tolist()
        for row, pick in zip(batch, choice, strict=True):
            predicted[row] = allowed[pick]
    model.train()
    report = classification_report(dev.labels, predicted, [str(i) for i in range(int(model.config.num_labels))])
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _restore_rng(saved: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(saved["python"])
    np.random.set_state(saved["numpy"])
    torch.set_rng_state(saved["torch"])


def _save_model(model: Any, directory: Path) -> None:
    """A crash never leaves half a model: it is built beside ``directory`` and swapped in whole."""
    with staged_directory(directory) as work:
        model.save_pretrained(work)


def _save_checkpoint(
    output: Path, step: int, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], keep: int
) -> None:
    import torch

    with staged_directory(output / CHECKPOINTS / f"step-{step}") as work:
        model.save_pretrained(work / "model")
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "state": state,
                "rng": _rng_state(),
            },
            work / STATE_FILE,
        )
    for old in _checkpoints(output)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _checkpoints(output: Path) -> list[Path]:
    root = output / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if p.name.split("-")[1].isdigit() and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _latest_checkpoint(output: Path) -> Path | None:
    found = _checkpoints(output)
    return found[-1] if found else None


def _restore_staging(output: Path, staging: Path) -> None:
    """Resuming a run that already finished (to add epochs): bring its published files back to staging."""
    published = [p for p in output.iterdir() if p.is_file() and p.name not in {"metrics.json", "training_curve.png"}]
    if not published:
        return
    for part, names in (("tokenizer", HF_TOKENIZER_FILES), ("best", HF_MODEL_FILES)):
        if not (staging / part).is_dir():
            (staging / part).mkdir()
            for path in published:
                if path.name in names:
                    shutil.copy2(path, staging / part / path.name)


def _publish(output: Path, staging: Path, metrics: dict[str, Any], losses: list[tuple[int, float]]) -> None:
    """Move the best model and tokenizer into ``output``, then write metrics last as the 'done' mark."""
    from moodline.core.plots import plot_training_curve

    move_durably([*(staging / "best").iterdir(), *(staging / "tokenizer").iterdir()], output)
    shutil.rmtree(staging, ignore_errors=True)
    plot_training_curve(metrics["history"], losses, output / "training_curve.png")
    write_atomically(output / "metrics.json", json.dumps(metrics, indent=2))
