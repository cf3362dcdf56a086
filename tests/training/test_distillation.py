from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from moodline.core.errors import DataFileError, InvalidInputError
from moodline.inference.engine import Engine
from moodline.training.distillation import SoftLabels, distillation_loss, rows_to_label
from moodline.training.trainer import Trainer, train
from tests.scripts import load_script
from tests.training.test_trainer import mix_args

pytestmark = pytest.mark.slow

LABELS = ["NEGATIVE", "NEUTRAL", "POSITIVE"]


def test_soft_labels_round_trip_and_are_found_by_source_and_text(tmp_path):
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], dtype=np.float32)
    soft = SoftLabels.from_rows(
        LABELS, ["meld", "meld", "meld"], ["awful", "great", "awful"], probabilities, about={"teacher": "t"}
    )
    assert len(soft) == 2  # the repeated row is one row to the teacher; its first score is kept
    loaded = SoftLabels.load(soft.save(tmp_path / "soft.npz"))
    assert loaded.label_names == LABELS and loaded.about == {"teacher": "t"}
    found_probabilities, found = loaded.lookup(["meld", "meld", "tweets", "meld"], ["great", "awful", "great", "fine"])
    assert found.tolist() == [True, True, False, False]  # another source's row is another row
    np.testing.assert_allclose(found_probabilities[:2], probabilities[[1, 0]], atol=1e-3)  # stored as float16
    assert not found_probabilities[2:].any()


def test_a_file_that_is_not_soft_labels_is_refused_clearly(tmp_path):
    (tmp_path / "other.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="not a soft-label file"):
        SoftLabels.load(tmp_path / "other.npz")
    with pytest.raises(DataFileError, match="no such soft-label file"):
        SoftLabels.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "arrays.npz", keys=np.zeros(1, dtype=np.uint64))
    with pytest.raises(DataFileError, match="not a soft-label file"):
        SoftLabels.load(tmp_path / "arrays.npz")


def test_the_distillation_loss_vanishes_only_where_the_student_agrees_with_the_teacher():
    import torch

    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    agreeing = torch.log(teacher) + 3.0  # logits of the same distribution
    assert torch.allclose(distillation_loss(agreeing, teacher, 2.0), torch.zeros(2), atol=1e-5)
    disagreeing = torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])
    loss = distillation_loss(disagreeing, teacher, 2.0)
    assert torch.all(loss > 0.5)
    # The temperature-squared factor keeps the size of the loss comparable across temperatures.
    assert distillation_loss(disagreeing, teacher, 1.0).sum() > 0
    assert distillation_loss(disagreeing, teacher, 4.0).sum() > 0


def test_the_rows_to_label_are_the_first_epoch_a_student_with_that_seed_draws(tiny_hf_model, tmp_path):
    trainer = Trainer(mix_args(tmp_path, tiny_hf_model, "run"))
    drawn = {row for batch in trainer._epoch_batches(random.Random(5)) for row in batch}  # mix_args' seed
    assert set(rows_to_label(trainer.train_data, 5)) == drawn
    assert rows_to_label(trainer.train_data, None) == list(range(len(trainer.train_data)))


def soft_labels_for(trainer: Trainer, path: Path, teacher: np.ndarray, rows: list[int]) -> Path:
    data = trainer.train_data
    names = [data.sources[data.source_of[i]].name for i in rows]
    return SoftLabels.from_rows(data.label_names, names, [data.texts[i] for i in rows], teacher).save(path)


def test_covered_rows_mix_the_teachers_loss_in_and_others_keep_the_plain_loss(tiny_hf_model, tmp_path):
    import torch

    plain = Trainer(mix_args(tmp_path, tiny_hf_model, "plain"))
    data = plain.train_data
    binary_rows = [i for i, s in enumerate(data.source_of) if s == 1][:3]
    three_rows = [i for i, s in enumerate(data.source_of) if s == 0][:3]
    teacher = np.tile(np.array([[0.2, 0.6, 0.2]], dtype=np.float32), (2, 1))
    path = soft_labels_for(plain, tmp_path / "soft.npz", teacher, [binary_rows[0], three_rows[0]])
    taught = Trainer(mix_args(tmp_path, tiny_hf_model, "taught", soft_labels=str(path), distill_weight=1.0))
    batch = binary_rows + three_rows
    labels = torch.tensor([data.labels[i] for i in batch])
    logits = torch.zeros((6, 3), requires_grad=True)
    taught._loss(logits, labels, batch).backward()
    assert logits.grad is not None
    # The teacher, unlike the binary source, has a view on neutral: a covered binary row is pulled towards it ...
    assert logits.grad[0, 1] < 0
    # ... while an uncovered one still puts no pressure on the neutral logit.
    assert torch.all(logits.grad[1:3, 1] == 0)
    uncovered = [1, 2, 4, 5]
    expected = plain._loss(torch.zeros((4, 3)), labels[uncovered], [batch[i] for i in uncovered])
    per_row = taught._loss(torch.zeros((6, 3)), labels, batch) * 6
    stored = torch.from_numpy(teacher.astype(np.float16).astype(np.float32))  # as the file keeps it
    soft = distillation_loss(torch.zeros((2, 3)), stored, 2.0).sum()
    assert per_row.item() == pytest.approx(expected.item() * 4 + soft.item(), rel=1e-5)


def test_a_student_taught_by_a_teacher_that_contradicts_the_labels_follows_the_teacher(tiny_hf_model, tmp_path):
    import torch

    plain = Trainer(mix_args(tmp_path, tiny_hf_model, "plain"))
    data = plain.train_data
    rows = list(range(len(data)))
    # The teacher swaps negative and positive on every row.
    swapped = np.zeros((len(rows), 3), dtype=np.float32)
    swapped[np.arange(len(rows)), [2 - data.labels[i] for i in rows]] = 1.0
    path = soft_labels_for(plain, tmp_path / "soft.npz", swapped, rows)
    student = Trainer(
        mix_args(
            tmp_path,
            tiny_hf_model,
            "taught",
            epochs=6,
            learning_rate=1e-2,  # what the tiny model needs to learn this data in a few epochs
            soft_labels=str(path),
            distill_weight=1.0,
            distill_temperature=1.0,
        )
    )
    metrics = student.run()
    assert metrics["distillation"]["rows_covered"] == len(rows)
    # The model as trained (not the checkpoint the dev sets chose, which prefer the data's labels).
    model = student.model.eval()
    texts = {"it was great": 0, "it was awful": 2}  # NEGATIVE and POSITIVE, as the teacher, not the data, says
    with torch.inference_mode():
        for text, teachers_label in texts.items():
            ids = torch.tensor([student.tokenizer.encode([text])[0].ids])
            assert model(input_ids=ids).logits.argmax(-1).item() == teachers_label, text


def test_soft_labels_of_other_labels_or_another_mix_are_refused(tiny_hf_model, tmp_path):
    plain = Trainer(mix_args(tmp_path, tiny_hf_model, "plain"))
    other = SoftLabels.from_rows(["NEG", "POS"], ["three"], ["x"], np.array([[0.5, 0.5]], dtype=np.float32))
    with pytest.raises(InvalidInputError, match="differ from the data's"):
        Trainer(mix_args(tmp_path, tiny_hf_model, "a", soft_labels=str(other.save(tmp_path / "other.npz"))))
    elsewhere = soft_labels_for(plain, tmp_path / "elsewhere.npz", np.ones((1, 3), dtype=np.float32) / 3, [0])
    renamed = SoftLabels.load(elsewhere)
    unrelated = SoftLabels(renamed.label_names, renamed.keys + np.uint64(1), renamed.probabilities)
    with pytest.raises(InvalidInputError, match="covers none of the training rows"):
        Trainer(mix_args(tmp_path, tiny_hf_model, "b", soft_labels=str(unrelated.save(tmp_path / "unrelated.npz"))))


def test_the_script_scores_a_students_first_epoch_with_the_teacher(tiny_hf_model, tmp_path):
    plain = Trainer(mix_args(tmp_path, tiny_hf_model, "plain"))
    teacher = tmp_path / "teacher"
    train(mix_args(tmp_path, tiny_hf_model, "teacher", epochs=1))
    output = tmp_path / "soft.npz"
    mix = str(tmp_path / "mix.toml")
    assert (
        load_script("teacher_soft_labels").main([str(teacher), "--mix", mix, "--seed", "5", "--output", str(output)])
        == 0
    )
    soft = SoftLabels.load(output)
    assert soft.about["rows"] == "first epoch of seed 5"
    rows = rows_to_label(plain.train_data, 5)
    data = plain.train_data
    probabilities, found = soft.lookup(
        [data.sources[data.source_of[i]].name for i in rows], [data.texts[i] for i in rows]
    )
    assert found.all()
    # The stored probabilities are the teacher's own (float16), as its engine gives them.
    engine_probabilities = Engine.load(teacher, backend="transformers").probabilities([data.texts[rows[0]]])[0][0]
    np.testing.assert_allclose(probabilities[0], engine_probabilities, atol=0.02)  # bf16 scoring, float16 storage
    metrics = train(mix_args(tmp_path, tiny_hf_model, "student", epochs=1, soft_labels=str(output)))
    assert metrics["distillation"]["rows_covered"] >= len(set(rows))


def test_the_committed_teacher_labels_cover_every_training_row_of_their_mix():
    # Scored with --all-rows, so a student of any seed and any number of epochs finds every row.
    from moodline.training.mixture import MIXES_DIR, DataMixture
    from tests.conftest import require_shared_data

    soft = SoftLabels.load(MIXES_DIR / "sentiment-3way-stage3.teacher.npz")
    assert soft.label_names == LABELS and soft.about["rows"] == "all"
    data = DataMixture.load("sentiment-3way-stage3", require_shared_data()).read_training()
    probabilities, found = soft.lookup([data.sources[i].name for i in data.source_of], data.texts)
    assert len(data) > 180_000 and found.all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=5e-3)
