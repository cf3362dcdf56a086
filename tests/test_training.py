from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.engine import Engine
from moodline.errors import InvalidInputError
from moodline.training import TrainingArguments, train

pytestmark = pytest.mark.slow

WORDS_POS = ["great", "lovely", "excellent", "wonderful", "superb", "enjoyable"]
WORDS_NEG = ["awful", "boring", "terrible", "dreadful", "painful", "dull"]


def synthetic_tsv(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["sentence\tlabel"]
    for _ in range(rows):
        label = rng.randint(0, 1)
        words = WORDS_POS if label else WORDS_NEG
        lines.append(f"the film was {rng.choice(words)} and {rng.choice(words)}\t{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_args(tmp_path: Path, base: Path, output: str, **overrides: object) -> TrainingArguments:
    data = synthetic_tsv(tmp_path / "train.tsv", 192)
    options: dict[str, object] = {
        "train_file": str(data),
        "output_dir": str(tmp_path / output),
        "base_model": str(base),
        "label_names": ["NEGATIVE", "POSITIVE"],
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "patience": 0,
        "seed": 5,
    }
    options.update(overrides)
    return TrainingArguments(**options)  # type: ignore[arg-type]


def test_cli_trains_on_2000_sst2_rows_end_to_end(sst2_train, sst2_dev, tmp_path):
    output = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            str(sst2_train),
            "--dev",
            str(sst2_dev),
            "--labels",
            "NEGATIVE,POSITIVE",
            "--limit",
            "2000",
            "--epochs",
            "1",
            "--lr",
            "1e-4",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["train_rows"] == 2000 and metrics["dev_rows"] == 872
    assert metrics["best_dev_accuracy"] > 0.70  # a 2,000-row epoch lands near 0.78; chance is 0.51
    assert (output / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not (output / ".staging").exists()
    engine = Engine.load(output)
    assert engine.info.backend == "transformers" and engine.labels == ["NEGATIVE", "POSITIVE"]
    assert [p.label for p in engine.predict(["a wonderful , moving film", "dull , lifeless and boring"])] == [
        "POSITIVE",
        "NEGATIVE",
    ]


def test_resume_after_interruption_matches_an_uninterrupted_run(tiny_hf_model, tmp_path):
    reference = train(tiny_args(tmp_path, tiny_hf_model, "straight"))

    class Interrupted(Exception):
        pass

    def stop_in_epoch_two(record: dict[str, object]) -> None:
        if record["epoch"] == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(tiny_args(tmp_path, tiny_hf_model, "resumed"), on_evaluation=stop_in_epoch_two)
    assert not (tmp_path / "resumed" / "metrics.json").exists()  # nothing published by the broken run
    resumed = train(tiny_args(tmp_path, tiny_hf_model, "resumed", resume=True))
    assert resumed["epochs_run"] == 2
    for a, b in zip(reference["history"], resumed["history"], strict=True):
        assert a["dev_accuracy"] == b["dev_accuracy"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


def test_resume_extends_a_finished_run(tiny_hf_model, tmp_path):
    train(tiny_args(tmp_path, tiny_hf_model, "run", epochs=1))
    extended = train(tiny_args(tmp_path, tiny_hf_model, "run", epochs=2, resume=True))
    assert extended["epochs_run"] == 2 and len(extended["history"]) == 2
    assert Engine.load(tmp_path / "run").labels == ["NEGATIVE", "POSITIVE"]


def test_early_stopping_and_holdout_split(tiny_hf_model, tmp_path):
    # A learning rate of zero never improves after the first evaluation: patience 1 stops at epoch 2.
    metrics = train(
        tiny_args(tmp_path, tiny_hf_model, "run", epochs=5, patience=1, learning_rate=1e-12, dev_fraction=0.25)
    )
    assert metrics["epochs_run"] == 2
    assert metrics["dev_rows"] == 48 and metrics["train_rows"] == 144


def test_refuses_a_non_empty_output_without_resume(tiny_hf_model, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("keep")
    with pytest.raises(InvalidInputError, match="not empty"):
        train(tiny_args(tmp_path, tiny_hf_model, "run"))
    with pytest.raises(InvalidInputError, match="no checkpoint"):
        train(tiny_args(tmp_path, tiny_hf_model, "other", resume=True))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be at least 1"),
        ("learning_rate", -1.0, "learning_rate must be positive"),
        ("warmup_ratio", 1.5, "warmup_ratio"),
        ("limit", 1, "limit must be at least 2"),
    ],
)
def test_arguments_are_validated_with_the_field_named(tmp_path, field, value, message):
    with pytest.raises(InvalidInputError, match=message):
        TrainingArguments(train_file="x", output_dir=str(tmp_path), **{field: value})
