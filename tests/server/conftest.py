from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.server import create_app
from tests.servers import app_in_thread


class SlowEngine(Engine):
    """The tiny real engine with a fixed delay per batch, to fill the queue on purpose."""

    delay_s = 0.2

    def predict(self, texts, *, long_text=None):  # type: ignore[no-untyped-def]
        time.sleep(self.delay_s)
        return super().predict(texts, long_text=long_text)


class BrokenEngine(Engine):
    def predict(self, texts, *, long_text=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail /etc/passwd")


@pytest.fixture
def make_client(tiny_engine: Engine, tiny_emotion_engine: Engine) -> Callable[..., Any]:
    """An in-process client of an app on the tiny models (sentiment, and emotions unless ``emotions=False``)."""

    @asynccontextmanager
    async def factory(
        engine: Engine | None = None, emotion_engine: Engine | None = None, **settings: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            Settings(**settings), engine=engine or tiny_engine, emotion_engine=emotion_engine or tiny_emotion_engine
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://moodline.test") as client:
                yield client

    return factory


def clone_engine(engine: Engine, cls: type[Engine]) -> Engine:
    return cls(engine.backend, engine.tokenizer, engine.info, batch_size=engine.batch_size)


@pytest.fixture
def live_server(tiny_engine: Engine, tiny_emotion_engine: Engine):  # type: ignore[no-untyped-def]
    """A real uvicorn server on a free loopback port, in a thread; yields (url, api_key)."""
    app = create_app(Settings(api_keys="sesame"), engine=tiny_engine, emotion_engine=tiny_emotion_engine)
    with app_in_thread(app) as url:
        yield url, "sesame"
