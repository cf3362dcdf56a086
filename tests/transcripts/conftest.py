from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_path(name: str) -> Path:
    return SAMPLES / name


@pytest.fixture
def sample_bytes():  # type: ignore[no-untyped-def]
    return lambda name: (SAMPLES / name).read_bytes()
