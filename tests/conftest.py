"""Shared fixtures: small real models built on the fly, and the shared SST-2 / MELD data.

The tiny model is a randomly initialised 2-layer BERT with the real bert-base-uncased WordPiece
vocabulary (from the offline MiniLM package) and a 64-token limit, so truncation is easy to reach
and export/engine tests take seconds.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MOODLINE_NO_PROGRESS", "1")
# Training runs are tracked (MLflow) and lifecycle stores default to the user's data directory: keep tests out of it.
os.environ.setdefault("MOODLINE_DATA_DIR", tempfile.mkdtemp(prefix="moodline-test-data-"))

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MOODLINE_SHARED_DATA", ROOT.parent / "shared" / "data"))
SST2_TRAIN = SHARED_DATA / "sst2" / "train.tsv"
SST2_DEV = SHARED_DATA / "sst2" / "dev.tsv"
TINY_MAX_LENGTH = 64


def require_file(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data file {path} is absent (CI always has it)")
    return path


def require_shared_data() -> Path:
    """The shared data directory, or a skip saying it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data {SHARED_DATA} is absent (CI always has it)")
    return SHARED_DATA


@pytest.fixture
def random_seed() -> int:
    """A seed for a test's random choices: ``MOODLINE_TEST_SEED`` when set, else a new one each run.

    Printed, so a failing test's captured output shows it; ``MOODLINE_TEST_SEED=N`` replays that run.
    """
    seed = int(os.environ.get("MOODLINE_TEST_SEED") or secrets.randbelow(100_000))
    print(f"MOODLINE_TEST_SEED={seed}")  # noqa: T201 - pytest shows it with a failure
    return seed


@pytest.fixture(scope="session")
def sst2_train() -> Path:
    return require_file(SST2_TRAIN)


@pytest.fixture(scope="session")
def sst2_dev() -> Path:
    return require_file(SST2_DEV)


# The emotion model's labels in id order, as the emotions-7way mix trains them.
TINY_EMOTION_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


def save_tiny_bert(directory: Path, labels: tuple[str, ...]) -> Path:
    """A real (random-weight) BertForSequenceClassification with ``labels``, saved as a Hugging Face directory."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from moodline.inference.sources import resolve_local

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=TINY_MAX_LENGTH,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForSequenceClassification(config)
    # Spread the head's weights so predictions differ clearly between texts (random init is near-uniform).
    with torch.no_grad():
        model.classifier.weight.mul_(40)
    model.save_pretrained(directory)
    base = resolve_local("sentence-transformers/all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(base, model_max_length=TINY_MAX_LENGTH)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_hf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (random-weight) three-label BertForSequenceClassification saved as a Hugging Face directory."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-hf"), ("negative", "neutral", "positive"))


@pytest.fixture(scope="session")
def tiny_onnx_model(tiny_hf_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from moodline.training.export import export_model

    directory = tmp_path_factory.mktemp("tiny-onnx") / "model"
    export_model(tiny_hf_model, directory, name="tiny")
    return directory


@pytest.fixture(scope="session")
def tiny_engine(tiny_onnx_model: Path):  # type: ignore[no-untyped-def]
    from moodline.inference.engine import Engine

    return Engine.load(tiny_onnx_model, batch_size=4)


@pytest.fixture(scope="session")
def tiny_emotion_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random BERT with the seven emotion labels, exported as a moodline ONNX model directory."""
    from moodline.training.export import export_model

    hf = save_tiny_bert(tmp_path_factory.mktemp("tiny-emotion-hf"), TINY_EMOTION_LABELS)
    directory = tmp_path_factory.mktemp("tiny-emotion-onnx") / "model"
    export_model(hf, directory, name="tiny-emotions")
    return directory


@pytest.fixture(scope="session")
def tiny_emotion_engine(tiny_emotion_model: Path):  # type: ignore[no-untyped-def]
    from moodline.inference.engine import Engine

    return Engine.load(tiny_emotion_model, batch_size=4)
