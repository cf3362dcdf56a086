"""The Python entry point most users want: ``Analyzer().predict(...)``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

from .engine import Engine, LongTextMode
from .prediction import Prediction

__all__ = ["Analyzer"]


class Analyzer:
    """Sentiment for one text or many, with the bundled model unless told otherwise.

    Example::

        from moodline import Analyzer
        analyzer = Analyzer()
        analyzer.predict("It is worth it").label                  # 'POSITIVE'
        [p.label for p in analyzer.predict(["Great", "Awful"])]   # ['POSITIVE', 'NEGATIVE']
    """

    def __init__(self, model: str | Path | None = None, *, engine: Engine | None = None, **options: Any) -> None:
        self.engine = engine or Engine.load(model, **options)

    @property
    def labels(self) -> list[str]:
        return self.engine.labels

    @overload
    def predict(self, texts: str, *, long_text: LongTextMode | None = None) -> Prediction: ...  # type: ignore[overload-overlap]

    @overload
    def predict(self, texts: Sequence[str], *, long_text: LongTextMode | None = None) -> list[Prediction]: ...

    def predict(self, texts: str | Sequence[str], *, long_text: LongTextMode | None = None) -> Any:
        if isinstance(texts, str):
            return self.engine.predict([texts], long_text=long_text)[0]
        return self.engine.predict(texts, long_text=long_text)
