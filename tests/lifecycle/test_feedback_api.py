from __future__ import annotations

import httpx
import pytest

from moodline.core.locations import store_url
from moodline.inference.engine import Engine
from moodline.lifecycle.store import Store
from moodline.server import create_app
from tests.servers import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def bundled() -> Engine:
    return Engine.load(threads=1)


async def serve(settings, engine, work):  # type: ignore[no-untyped-def]
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://moodline.test") as client:
            await work(client)


async def test_logged_predictions_carry_ids_and_take_feedback(bundled, lifecycle_settings):
    settings = lifecycle_settings(prediction_sample_rate=1.0)

    async def work(client: httpx.AsyncClient) -> None:
        response = await client.post("/predict", json={"texts": ["It is worth it", "A waste of time"]})
        ids = response.headers["X-Prediction-Id"].split(",")
        assert len(ids) == 2 and all(len(i) == 32 for i in ids)
        answer = await client.post("/feedback", json={"prediction_id": ids[1], "label": "negative"})
        assert answer.status_code == 201
        assert answer.json() == {"id": 1, "prediction_id": ids[1], "label": "NEGATIVE"}
        missing = await client.post("/feedback", json={"prediction_id": "0" * 32, "label": "NEGATIVE"})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "prediction_not_found"
        bad_label = await client.post("/feedback", json={"text": "fine", "label": "MEH"})
        assert bad_label.status_code == 422 and "MEH" in bad_label.json()["error"]["message"]
        both = await client.post("/feedback", json={"text": "fine", "prediction_id": ids[0], "label": "POSITIVE"})
        assert both.status_code == 422 and both.json()["error"]["type"] == "invalid_input"
        monitor = await client.get("/monitor")
        assert monitor.status_code == 200
        assert {c["name"] for c in monitor.json()["checks"]} >= {"accuracy", "label_drift", "oov_drift", "model_age"}

    await serve(settings, bundled, work)
    store = Store(store_url(settings))
    [row] = store.recent_feedback()
    assert (row.text, row.label) == ("A waste of time", "NEGATIVE")
    assert store.count_predictions(bundled.info.version) == 2


async def test_unlogged_servers_answer_as_before_and_take_feedback_by_text(bundled, lifecycle_settings):
    settings = lifecycle_settings()

    async def work(client: httpx.AsyncClient) -> None:
        response = await client.post("/predict", json={"text": "It is worth it"})
        assert response.status_code == 200 and "X-Prediction-Id" not in response.headers
        answer = await client.post("/feedback", json={"text": "It is worth it", "label": "POSITIVE"})
        assert answer.status_code == 201 and answer.json()["prediction_id"] is None

    await serve(settings, bundled, work)


async def test_a_down_store_is_a_503_without_internals(bundled, lifecycle_settings):
    settings = lifecycle_settings(store_url=f"postgresql://secret-user:pw@127.0.0.1:{free_port()}/db")

    async def work(client: httpx.AsyncClient) -> None:
        answer = await client.post("/feedback", json={"text": "It is worth it", "label": "POSITIVE"})
        assert answer.status_code == 503
        assert answer.json()["error"] == {
            "type": "store_unavailable",
            "message": "the feedback store is unavailable; try again later",
            "details": [],
        }

    await serve(settings, bundled, work)
