"""Fine-tuning a Hugging Face encoder for sentence classification.

Length-bucketed batches, gradient accumulation, linear warmup and decay, early stopping on dev
accuracy, a resumable checkpoint per epoch, a fixed seed, a progress bar with rate and ETA, and at
the end a model directory with ``metrics.json`` and ``training_curve.png``.

Example::

    from moodline.training import TrainingArguments, train
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .bucketing import shuffled_bucket_batches, sorted_batches
from .data import LabelledData, read_labelled, split_holdout
from .errors import InvalidInputError
from .model_source import hub_load, load_hf_tokenizer, require_torch, resolve_local
from .progress import progress_bar
from .tokenization import TextTokenizer, pad_batch

__all__ = ["Trainer", "TrainingArguments", "train"]

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"
MODEL_FILES = {"config.json", "model.safetensors", "generation_config.json"}
TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}


@dataclass
class TrainingArguments:
    """Everything one training run depends on; validated on creation with errors naming the field."""

    train_file: str
    output_dir: str
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
    resume: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        self.train_data, self.dev_data = _load_data(args)
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
        self.train_ids = [e.ids for e in self.tokenizer.encode(self.train_data.texts)]
        self.dev_ids = [e.ids for e in self.tokenizer.encode(self.dev_data.texts)]
        self.lengths = [len(ids) for ids in self.train_ids]

        batches = math.ceil(len(self.train_ids) / args.batch_size)
        total_steps = math.ceil(batches / args.gradient_accumulation) * args.epochs
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, args.weight_decay), lr=args.learning_rate)
        warmup = int(total_steps * args.warmup_ratio)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _linear_warmup_decay(warmup, total_steps))

        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "history": [], "losses": [], "best": -1.0, "bad_epochs": 0}
        if checkpoint is not None:
            saved = torch.load(checkpoint / STATE_FILE, weights_only=False)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            self.state = saved["state"]
            _restore_rng(saved["rng"])

    def run(self) -> dict[str, Any]:
        args, state = self.args, self.state
        started = time.perf_counter()
        rng = random.Random(args.seed)
        for _ in range(state["epoch"]):  # replay the shuffles of finished epochs so a resume matches
            shuffled_bucket_batches(self.lengths, args.batch_size, rng)
        for epoch in range(state["epoch"] + 1, args.epochs + 1):
            if args.patience and state["bad_epochs"] >= args.patience:
                break
            best_before_epoch = state["best"]
            self._train_epoch(epoch, shuffled_bucket_batches(self.lengths, args.batch_size, rng))
            state["epoch"] = epoch
            state["bad_epochs"] = 0 if state["best"] > best_before_epoch else state["bad_epochs"] + 1
            _save_checkpoint(
                self.output, epoch, self.model, self.optimizer, self.scheduler, state, args.keep_checkpoints
            )

        best = max(state["history"], key=lambda r: r["dev_accuracy"])
        metrics = {
            "base_model": args.base_model,
            "label_names": self.train_data.label_names,
            "train_rows": len(self.train_data),
            "dev_rows": len(self.dev_data),
            "dev_source": args.dev_file or f"held-out {args.dev_fraction:.0%} of the training file",
            "best_dev_accuracy": state["best"],
            "best_epoch": best["epoch"],
            "best_step": best["step"],
            "epochs_run": state["epoch"],
            "steps": state["step"],
            "history": state["history"],
            "train_seconds_this_run": round(time.perf_counter() - started, 1),
            "arguments": {k: v for k, v in asdict(args).items() if k != "extra"},
        }
        _publish(self.output, self.staging, metrics, state["losses"])
        return metrics

    def _train_epoch(self, epoch: int, batches: list[list[int]]) -> None:
        import torch

        args, state, model = self.args, self.state, self.model
        model.train()
        epoch_loss, seen = 0.0, 0
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        for number, batch in enumerate(batches, start=1):
            ids, mask = pad_batch([self.train_ids[i] for i in batch], self.tokenizer.pad_id)
            labels = torch.tensor([self.train_data.labels[i] for i in batch])
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), labels=labels)
            (out.loss / args.gradient_accumulation).backward()
            loss = out.loss.item()
            epoch_loss += loss * len(batch)
            seen += len(batch)
            if number % args.gradient_accumulation == 0 or number == len(batches):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["losses"].append((state["step"], loss))
                if args.eval_steps and state["step"] % args.eval_steps == 0 and number < len(batches):
                    bar.write(self._evaluate(epoch - 1 + number / len(batches), epoch_loss / seen))
            bar.update(1)
            bar.set_postfix(loss=f"{epoch_loss / seen:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
        bar.write(self._evaluate(epoch, epoch_loss / seen))
        bar.close()

    def _evaluate(self, epoch_position: float, train_loss: float) -> str:
        """Score the dev set, keep the model if it is the best so far; return a log line."""
        accuracy = _dev_accuracy(self.model, self.dev_ids, self.dev_data.labels, self.tokenizer.pad_id)
        record = {
            "epoch": round(epoch_position, 3),
            "step": self.state["step"],
            "train_loss": train_loss,
            "dev_accuracy": accuracy,
        }
        self.state["history"].append(record)
        improved = accuracy > self.state["best"]
        if improved:
            self.state["best"] = accuracy
            _save_model(self.model, self.staging / "best")
        if self.on_evaluation is not None:
            self.on_evaluation(record)
        return f"epoch {record['epoch']}: train loss {train_loss:.4f}, dev accuracy {accuracy:.4f}" + (
            " (best)" if improved else ""
        )


def _load_data(args: TrainingArguments) -> tuple[LabelledData, LabelledData]:
    def read(path: str, label_names: list[str] | None, limit: int | None) -> LabelledData:
        return read_labelled(
            path,
            text_column=args.text_column,
            label_column=args.label_column,
            label_names=label_names,
            fmt=args.data_format,
            limit=limit,
        )

    data = read(args.train_file, args.label_names, args.limit)
    if args.dev_file:
        return data, read(args.dev_file, data.label_names, None)
    return split_holdout(data, args.dev_fraction, args.seed)


def _load_model_and_tokenizer(
    args: TrainingArguments, label_names: Sequence[str], staging: Path, checkpoint: Path | None
) -> tuple[Any, TextTokenizer]:
    from transformers import AutoModelForSequenceClassification

    source = checkpoint if checkpoint is not None else resolve_local(args.base_model) or args.base_model
    if checkpoint is None:
        # Save the base tokenizer next to the model so the output directory is self-contained.
        load_hf_tokenizer(str(source)).save_pretrained(staging / "tokenizer")
        _normalise_tokenizer(staging / "tokenizer" / "tokenizer.json")
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


def _normalise_tokenizer(path: Path) -> None:
    """Drop fixed padding/truncation from a saved tokenizer.json (callers pad per batch)."""
    data = json.loads(path.read_text())
    data["padding"] = None
    data["truncation"] = None
    path.write_text(json.dumps(data, ensure_ascii=False))


def _param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _linear_warmup_decay(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def _dev_accuracy(model: Any, ids: list[list[int]], labels: list[int], pad_id: int) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for batch in sorted_batches([len(x) for x in ids], 128):
            input_ids, mask = pad_batch([ids[i] for i in batch], pad_id)
            logits = model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)).logits
            predicted = logits.argmax(-1).tolist()
            correct += sum(p == labels[i] for p, i in zip(predicted, batch, strict=True))
    model.train()
    return correct / len(ids)


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
    """Write to a sibling temp directory, then swap it in: a crash never leaves half a model."""
    temporary = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    shutil.rmtree(directory, ignore_errors=True)
    temporary.rename(directory)


def _save_checkpoint(
    output: Path, epoch: int, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], keep: int
) -> None:
    import torch

    root = output / CHECKPOINTS
    target = root / f"epoch-{epoch}"
    temporary = root / f"epoch-{epoch}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    model.save_pretrained(temporary / "model")
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "state": state, "rng": _rng_state()},
        temporary / STATE_FILE,
    )
    shutil.rmtree(target, ignore_errors=True)
    temporary.rename(target)
    for old in _checkpoints(output)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _checkpoints(output: Path) -> list[Path]:
    root = output / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.glob("epoch-*") if p.name.split("-")[1].isdigit() and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _latest_checkpoint(output: Path) -> Path | None:
    found = _checkpoints(output)
    return found[-1] if found else None


def _restore_staging(output: Path, staging: Path) -> None:
    """Resuming a run that already finished (to add epochs): bring its published files back to staging."""
    published = [p for p in output.iterdir() if p.is_file() and p.name not in {"metrics.json", "training_curve.png"}]
    if not published:
        return
    for part, names in (("tokenizer", TOKENIZER_FILES), ("best", MODEL_FILES)):
        if not (staging / part).is_dir():
            (staging / part).mkdir()
            for path in published:
                if path.name in names:
                    shutil.copy2(path, staging / part / path.name)


def _publish(output: Path, staging: Path, metrics: dict[str, Any], losses: list[tuple[int, float]]) -> None:
    """Move the best model and tokenizer into ``output``, then write metrics last as the 'done' mark."""
    from .plots import plot_training_curve

    for source in [*(staging / "best").iterdir(), *(staging / "tokenizer").iterdir()]:
        os.replace(source, output / source.name)
    shutil.rmtree(staging, ignore_errors=True)
    plot_training_curve(metrics["history"], losses, output / "training_curve.png")
    temporary = output / "metrics.json.tmp"
    temporary.write_text(json.dumps(metrics, indent=2))
    os.replace(temporary, output / "metrics.json")
