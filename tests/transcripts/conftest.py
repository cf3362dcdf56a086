from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_path(name: str) -> Path:
    return SAMPLES / name
