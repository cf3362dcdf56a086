"""The Python entry point most users want: ``Analyzer().predict(...)``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

from moodline.inference.engine import Engine, LongTextMode
from moodline.inference.prediction import Prediction
from moodline.inference.three_way import to_two_way

__all__ = ["Analyzer"]


class Analyzer:
    """Sentiment for one text or many, with the bundled model unless told otherwise.

    Example::

        from moodline import Analyzer
        analyzer = Analyzer()
        analyzer.predict("It is worth it").label                  # 'POSITIVE'
        [p.label for p in analyzer.predict(["Great", "Awful"])]   # ['POSITIVE', 'NEGATIVE']
        analyzer.predict("The meeting is at ten").label           # 'NEUTRAL'
        analyzer.predict("The meeting is at ten", two_way=True)   # NEGATIVE or POSITIVE, renormalised
    """

    def __init__(self, model: str | Path | None = None, *, engine: Engine | None = None, **options: Any) -> None:
        self.engine = engine or Engine.load(model, **options)

    @property
    def labels(self) -> list[str]:
        return self.engine.labels

    @overload
    def predict(  # type: ignore[overload-overlap]
        self, texts: str, *, long_text: LongTextMode | None = None, two_way: bool = False
    ) -> Prediction: ...

    @overload
    def predict(
        self, texts: Sequence[str], *, long_text: LongTextMode | None = None, two_way: bool = False
    ) -> list[Prediction]: ...

    def predict(
        self, texts: str | Sequence[str], *, long_text: LongTextMode | None = None, two_way: bool = False
    ) -> Any:
        """Predictions for a text or a list of texts; ``two_way=True`` answers NEGATIVE or POSITIVE only."""
        batch = [texts] if isinstance(texts, str) else texts
        predictions = self.engine.predict(batch, long_text=long_text)
        if two_way:
            predictions = [to_two_way(p) for p in predictions]
        return predictions[0] if isinstance(texts, str) else predictions
