"""The one thing the lifecycle knows about a server: :class:`ModelHost`.

The lifecycle sits below the server, so it cannot import the server's state; the server's state
satisfies this protocol instead, and hot swap and the monitor go through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.inference.prediction import Prediction

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["ModelHost"]


class ModelHost(Protocol):
    """What the lifecycle needs from whatever serves the model: the settings, the model, a way to swap it,
    and the server's own way to score (the monitor's predictions share the batcher and the cache)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def metrics_registry(self) -> CollectorRegistry: ...

    def served_engine(self) -> Engine: ...

    def swap_engine(self, engine: Engine) -> None: ...

    async def predict_texts(self, texts: list[str]) -> list[Prediction]:
        """Score ``texts`` the way the server scores requests (its cache and batcher)."""
        ...
