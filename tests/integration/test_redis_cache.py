"""The Redis cache against a real redis-server: shared hits, and no failed request when Redis dies."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.inference.prediction import Prediction
from moodline.server import create_app
from moodline.server.cache import RedisCache, cache_key
from tests.servers import redis_server

pytestmark = pytest.mark.integration


def test_round_trip_and_model_version_in_the_key():
    with redis_server() as redis:
        cache = RedisCache(redis.url)
        prediction = Prediction("POSITIVE", 0.9, {"NEGATIVE": 0.1, "POSITIVE": 0.9})
        cache.set_many([(cache_key("v1", "Hello  world"), prediction)])
        assert cache.get_many([cache_key("v1", "Hello world"), cache_key("v2", "Hello world")]) == [prediction, None]


def test_requests_survive_redis_dying_and_use_it_again_when_back(tiny_engine):
    async def scenario() -> None:
        with redis_server() as redis:
            settings = Settings(redis_url=redis.url, redis_timeout_ms=200)
            first_app, second_app = create_app(settings, engine=tiny_engine), create_app(settings, engine=tiny_engine)
            async with first_app.router.lifespan_context(first_app), second_app.router.lifespan_context(second_app):
                first = httpx.AsyncClient(transport=httpx.ASGITransport(app=first_app), base_url="http://a")
                second = httpx.AsyncClient(transport=httpx.ASGITransport(app=second_app), base_url="http://b")
                warm = await first.post("/predict", json={"text": "shared between replicas"})
                shared = await second.post("/predict", json={"text": "shared between replicas"})
                assert warm.headers["x-moodline-cache-hits"] == "0"
                assert shared.headers["x-moodline-cache-hits"] == "1"  # the other replica's entry

                redis.kill()
                down = await asyncio.gather(
                    *(first.post("/predict", json={"text": f"while down {i}"}) for i in range(10))
                )
                assert [r.status_code for r in down] == [200] * 10
                metrics = (await first.get("/metrics")).text
                errors = float(
                    next(
                        line.split()[-1]
                        for line in metrics.splitlines()
                        if line.startswith("moodline_cache_errors_total")
                    )
                )
                assert errors >= 1

                redis.start()  # same port: the cache comes back after its back-off
                await asyncio.sleep(2.2)
                await first.post("/predict", json={"text": "after restart"})
                again = await second.post("/predict", json={"text": "after restart"})
                assert again.status_code == 200 and again.headers["x-moodline-cache-hits"] == "1"
                await first.aclose()
                await second.aclose()

    asyncio.run(scenario())
