from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.training.trainer import Trainer, TrainingArguments, train

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


def run_args(
    tmp_path: Path, base: Path, output: str, data: dict[str, object], **overrides: object
) -> TrainingArguments:
    options: dict[str, object] = {
        **data,
        "output_dir": str(tmp_path / output),
        "base_model": str(base),
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "patience": 0,
        "seed": 5,
    }
    options.update(overrides)
    return TrainingArguments(**options)  # type: ignore[arg-type]


def tiny_args(tmp_path: Path, base: Path, output: str, **overrides: object) -> TrainingArguments:
    data = {"train_file": str(synthetic_tsv(tmp_path / "train.tsv", 192)), "label_names": ["NEGATIVE", "POSITIVE"]}
    return run_args(tmp_path, base, output, data, **overrides)


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


def tiny_mix(tmp_path: Path) -> Path:
    """A three-way source and a binary (partial-label) source, with a dev set of each kind."""
    rng = random.Random(3)
    neutral = ["the meeting is at ten", "the bus leaves at six", "my order number is four"]
    rows = ["text,label"]
    for _ in range(96):
        label = rng.choice(["negative", "neutral", "positive"])
        text = (
            rng.choice(neutral)
            if label == "neutral"
            else f"it was {rng.choice(WORDS_POS if label == 'positive' else WORDS_NEG)}"
        )
        rows.append(f"{text},{label}")
    (tmp_path / "three.csv").write_text("\n".join(rows) + "\n")
    synthetic_tsv(tmp_path / "binary.tsv", 64, seed=4)
    mapping = '{ negative = "NEGATIVE", neutral = "NEUTRAL", positive = "POSITIVE" }'
    (tmp_path / "mix.toml").write_text(
        f"""labels = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
root = "."
[[source]]
name = "three"
path = "three.csv"
text_column = "text"
labels = {mapping}
[[source]]
name = "binary"
path = "binary.tsv"
weight = 0.5
labels = {{ 0 = "NEGATIVE", 1 = "POSITIVE" }}
[[dev]]
name = "three-dev"
path = "three.csv"
text_column = "text"
labels = {mapping}
limit = 30
[[dev]]
name = "binary-dev"
path = "binary.tsv"
labels = {{ 0 = "NEGATIVE", 1 = "POSITIVE" }}
limit = 30
"""
    )
    return tmp_path / "mix.toml"


def mix_args(tmp_path: Path, base: Path, output: str, **overrides: object) -> TrainingArguments:
    return run_args(tmp_path, base, output, {"mixture": str(tiny_mix(tmp_path))}, **overrides)


def test_a_partial_label_source_is_taught_only_over_the_labels_it_has(tiny_hf_model, tmp_path):
    import torch

    trainer = Trainer(mix_args(tmp_path, tiny_hf_model, "run"))
    data = trainer.train_data
    binary_rows = [i for i, s in enumerate(data.source_of) if s == 1][:4]
    three_rows = [i for i, s in enumerate(data.source_of) if s == 0][:4]
    logits = torch.zeros((8, 3), requires_grad=True)
    labels = torch.tensor([data.labels[i] for i in binary_rows + three_rows])
    trainer._loss(logits, labels, binary_rows + three_rows).backward()
    assert logits.grad is not None
    # Rows of the binary source put no pressure on the neutral logit (no "never neutral" is taught) ...
    assert torch.all(logits.grad[:4, 1] == 0)
    # ... and their loss is the two-way cross-entropy: log 2 at equal logits, not log 3.
    two_way = trainer._loss(torch.zeros((4, 3)), labels[:4], binary_rows)
    assert two_way.item() == pytest.approx(float(torch.log(torch.tensor(2.0))))
    assert torch.any(logits.grad[4:, 1] != 0)


def test_a_mixture_trains_and_chooses_by_mean_dev_macro_f1(tiny_hf_model, tmp_path):
    metrics = train(mix_args(tmp_path, tiny_hf_model, "run", eval_steps=3))
    assert metrics["label_names"] == ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    assert [s["source"] for s in metrics["sources"]] == ["three", "binary"]
    assert metrics["sources"][1]["rows_per_epoch"] == 32 and metrics["sources"][1]["labels"] == ["NEGATIVE", "POSITIVE"]
    best = max(metrics["history"], key=lambda r: r["dev_score"])
    assert metrics["best_dev_score"] == best["dev_score"]
    assert best["dev_score"] == pytest.approx(
        (best["dev_sets"]["three-dev"]["macro_f1"] + best["dev_sets"]["binary-dev"]["macro_f1"]) / 2
    )
    assert Engine.load(tmp_path / "run").labels == ["NEGATIVE", "NEUTRAL", "POSITIVE"]


def test_resume_from_a_mid_epoch_step_checkpoint_matches_an_uninterrupted_run(tiny_hf_model, tmp_path):
    reference = train(mix_args(tmp_path, tiny_hf_model, "straight", eval_steps=2))

    class Interrupted(Exception):
        pass

    def stop_after_step_four(record: dict[str, object]) -> None:
        if record["step"] == 4:  # saved at step 3 (save_steps=3): resume replays step 4 onwards
            raise Interrupted

    args = mix_args(tmp_path, tiny_hf_model, "resumed", eval_steps=2, save_steps=3)
    with pytest.raises(Interrupted):
        train(args, on_evaluation=stop_after_step_four)
    saved = sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir())
    assert saved == ["step-3"]
    resumed = train(mix_args(tmp_path, tiny_hf_model, "resumed", eval_steps=2, save_steps=3, resume=True))
    assert [r["step"] for r in resumed["history"]] == [r["step"] for r in reference["history"]]
    for a, b in zip(reference["history"], resumed["history"], strict=True):
        assert a["dev_score"] == pytest.approx(b["dev_score"], abs=1e-9)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


def test_mixture_and_file_are_alternatives(tmp_path):
    with pytest.raises(InvalidInputError, match="either train_file"):
        TrainingArguments(output_dir=str(tmp_path))
    with pytest.raises(InvalidInputError, match="either train_file"):
        TrainingArguments(output_dir=str(tmp_path), train_file="a.tsv", mixture="mix.toml")
    with pytest.raises(InvalidInputError, match="precision"):
        TrainingArguments(output_dir=str(tmp_path), train_file="a.tsv", precision="fp8")
    result = CliRunner().invoke(main, ["train", "--output", str(tmp_path / "x")])
    assert result.exit_code == 2 and "either --data FILE or --mix MIXFILE" in result.output


def test_punctuation_dropout_removes_the_final_mark_reproducibly(tiny_hf_model, tmp_path):
    trainer = Trainer(mix_args(tmp_path, tiny_hf_model, "run", punctuation_dropout=0.5))
    full_stop = trainer.tokenizer.token_id(".")
    trainer.train_ids[:4] = [
        e.ids for e in trainer.tokenizer.encode(["it was great.", "it was awful!", "is it?", "fine"])
    ]
    batch = list(range(4)) * 25
    first = trainer._batch_ids(batch, epoch=1, number=7)
    assert first == trainer._batch_ids(batch, epoch=1, number=7)  # the same draw when a run resumes
    endings = [ids[-2] for ids, row in zip(first, batch, strict=True) if row == 0]
    assert 0 < endings.count(full_stop) < len(endings)  # about half keep the full stop
    question, plain = trainer.train_ids[2], trainer.train_ids[3]
    assert all(ids == question for ids, row in zip(first, batch, strict=True) if row == 2)  # '?' stays
    assert all(ids == plain for ids, row in zip(first, batch, strict=True) if row == 3)
    trainer.args.punctuation_dropout = 0.0
    assert trainer._batch_ids(batch, epoch=1, number=7) == [trainer.train_ids[i] for i in batch]


def test_a_run_that_drops_the_final_full_stop_scores_without_it_everywhere(tiny_hf_model, tmp_path):
    from moodline.training.export import export_model

    train(mix_args(tmp_path, tiny_hf_model, "run", epochs=1, drop_final_full_stop=True))
    export_model(tmp_path / "run", tmp_path / "onnx")
    for engine in (Engine.load(tmp_path / "run", backend="transformers"), Engine.load(tmp_path / "onnx")):
        [ids] = [e.ids for e in engine.tokenizer.encode(["it was great."])]
        assert ids == engine.tokenizer.encode(["it was great"])[0].ids
        assert engine.tokenizer.encode(["it was great . "])[0].ids == ids
        # Only the one final full stop: an ellipsis, a question mark and inner stops stay.
        full_stop = engine.tokenizer.token_id(".")
        assert engine.tokenizer.encode(["well..."])[0].ids.count(full_stop) == 3
        assert engine.tokenizer.encode(["it is. is it?"])[0].ids.count(full_stop) == 1
    # A run without the option keeps the mark.
    plain = Trainer(mix_args(tmp_path, tiny_hf_model, "plain"))
    assert plain.tokenizer.encode(["it was great."])[0].ids != plain.tokenizer.encode(["it was great"])[0].ids


def test_context_reads_each_conversation_line_after_the_line_before(tiny_hf_model, tmp_path):
    mix = tiny_mix(tmp_path)
    rows = ["call,text,label", "1,the meeting is at ten,neutral", "1,it was awful,negative", "2,it was great,positive"]
    (tmp_path / "calls.csv").write_text("\n".join(rows) + "\n")
    mapping = '{ negative = "NEGATIVE", neutral = "NEUTRAL", positive = "POSITIVE" }'
    conversation = (
        f'[[source]]\nname = "calls"\npath = "calls.csv"\ntext_column = "text"\n'
        f'dialogue_column = "call"\nlabels = {mapping}\n'
    )
    mix.write_text(mix.read_text().replace("[[dev]]", conversation + "[[dev]]", 1))
    args = run_args(tmp_path, tiny_hf_model, "run", {"mixture": str(mix)}, epochs=1)
    alone = Trainer(args)
    paired = Trainer(replace(args, output_dir=str(tmp_path / "paired"), context=True))
    calls = [i for i, s in enumerate(paired.train_data.source_of) if s == 2]
    encode = paired.tokenizer.encode
    assert paired.train_ids[calls[1]] == encode(["it was awful"], ["the meeting is at ten"])[0].ids
    sep = paired.train_ids[calls[1]][-1]
    assert paired.train_ids[calls[1]].count(sep) == 2 and alone.train_ids[calls[1]].count(sep) == 1
    # A dialogue's first line, and every row of a source that is not a conversation, read alone.
    assert paired.train_ids[calls[2]] == alone.train_ids[calls[2]]
    assert paired.train_ids[: calls[0]] == alone.train_ids[: calls[0]]
    assert paired.run()["arguments"]["context"] is True

    (tmp_path / "plain").mkdir()
    plain_mix = tiny_mix(tmp_path / "plain")
    with pytest.raises(InvalidInputError, match="no source .* names a dialogue_column"):
        Trainer(run_args(tmp_path, tiny_hf_model, "none", {"mixture": str(plain_mix)}, context=True))


def test_rows_in_memory_train_like_the_same_rows_from_a_file(tiny_hf_model, tmp_path):
    from moodline.core.datafiles import read_labelled

    source = synthetic_tsv(tmp_path / "train.tsv", 192)
    rows = read_labelled(source, label_names=["NEGATIVE", "POSITIVE"])
    from_file = train(tiny_args(tmp_path, tiny_hf_model, "file"))
    from_rows = train(run_args(tmp_path, tiny_hf_model, "rows", {"train_rows": rows}))
    assert from_rows["history"] == from_file["history"]
    assert from_rows["arguments"]["train_rows"] == 192
    assert not list((tmp_path / "rows").glob("*.jsonl"))
    with pytest.raises(InvalidInputError, match="either train_file"):
        TrainingArguments(output_dir=str(tmp_path), train_file=str(source), train_rows=rows)
