"""Progress bars with rate and ETA for long work (training, evaluation, batch scoring)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

from moodline.core.settings import get_settings

__all__ = ["progress_bar"]


def progress_bar(total: int | None, desc: str, unit: str = "it", **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; ``MOODLINE_NO_PROGRESS=1`` silences it (tests, logs)."""
    disable = get_settings().no_progress
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=disable,
        dynamic_ncols=True,
        mininterval=0.5,
        **kwargs,
    )
