"""The /predict fast path answers exactly as the FastAPI route does, and leaves it everything else.

The route is reached for the same body by sending it as ``application/vnd.moodline+json`` (FastAPI
reads any ``+json`` type as JSON; the fast path takes only ``application/json``), so each answer is
compared with the route's own for the same request.
"""

from __future__ import annotations

from typing import Any

import pytest

from moodline.core.settings import Settings
from moodline.server import create_app
from moodline.server.fast_predict import PredictFastPath
from tests.server.conftest import SlowEngine, clone_engine

pytestmark = pytest.mark.anyio

ROUTE_ONLY = {"content-type": "application/vnd.moodline+json"}
TIMING = {"x-moodline-total-ms", "x-moodline-queue-ms", "x-moodline-inference-ms", "server-timing"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fast_answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Texts of the requests the fast path answered itself."""
    answered: list[str] = []
    original = PredictFastPath._answer

    async def counting(self: PredictFastPath, request: Any, scope: Any, send: Any) -> int:
        answered.append(request.text_list()[0][0])
        return await original(self, request, scope, send)

    monkeypatch.setattr(PredictFastPath, "_answer", counting)
    return answered


@pytest.mark.parametrize(
    "body",
    [
        {"text": "It is worth it"},
        {"texts": ["good", "bad", "fine"]},
        {"review": "A charming film", "source": "acme"},
        {"inputs": ["good", "bad"], "two_way": True},
        {"text": "so so", "three_way": True},
        {"text": "a " * 400, "long_text": "chunk"},
    ],
)
async def test_the_fast_path_answers_as_the_route_does(make_client, fast_answers, body):
    async with make_client(cache_size=0) as client:
        fast = await client.post("/predict", json=body)
        route = await client.post("/predict", json=body, headers=ROUTE_ONLY)
    assert len(fast_answers) == 1  # the first request only
    assert fast.status_code == route.status_code == 200, (fast.text, route.text)
    assert fast.json() == route.json()
    assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
    same_headers = {"x-moodline-cache-hits", "x-moodline-instance"}
    assert {k: fast.headers[k] for k in same_headers} == {k: route.headers[k] for k in same_headers}
    assert TIMING <= set(fast.headers) and TIMING <= set(route.headers)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"txt": "typo"}, {}, 422),
        ({"text": "a", "texts": ["b"]}, {}, 422),
        ([{"text": "a list, not an object"}], {}, 422),
        ({"text": "no key"}, {"authorization": "Bearer wrong"}, 401),
    ],
)
async def test_what_the_fast_path_does_not_take_is_answered_by_the_route(
    make_client, fast_answers, body, headers, status
):
    async with make_client(api_keys="sesame") as client:
        auth = headers or {"authorization": "Bearer sesame"}
        response = await client.post("/predict", json=body, headers=auth)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert fast_answers == []


async def test_malformed_json_and_other_content_types_go_to_the_route(make_client, fast_answers):
    async with make_client() as client:
        broken = await client.post("/predict", content=b'{"text": ', headers={"content-type": "application/json"})
        form = await client.post("/predict", data={"text": "a form"})
    assert broken.status_code == 422 and broken.json()["error"]["type"] == "invalid_input"
    assert form.status_code == 422
    assert fast_answers == []


async def test_errors_while_scoring_keep_their_status_and_headers(tiny_engine, fast_answers):
    import asyncio

    import httpx

    slow = clone_engine(tiny_engine, SlowEngine)
    app = create_app(Settings(max_queue_size=2, max_batch_size=1), engine=slow)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://moodline.test") as client:
            answers = await asyncio.gather(*(client.post("/predict", json={"text": f"t{i}"}) for i in range(8)))
            metrics = (await client.get("/metrics")).text
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.json()["error"]["type"] == "overloaded" for a in refused)
    assert all(int(a.headers["retry-after"]) >= 1 for a in refused)
    assert any(a.status_code == 200 for a in answers)
    assert len(fast_answers) == 8  # every one of them went the fast way, refusals included
    assert 'route="/predict",status="429"' in metrics and 'route="/predict",status="200"' in metrics


async def test_fast_answers_carry_what_the_middleware_stack_adds(make_client, fast_answers):
    async with make_client(keepalive_requests=1, cache_size=0) as client:  # every connection recycled
        fast = await client.post("/predict", json={"text": "fine"})
        route = await client.post("/predict", json={"text": "fine"}, headers=ROUTE_ONLY)
        metrics = (await client.get("/metrics")).text
    assert fast_answers == ["fine"]
    assert fast.headers["connection"] == route.headers["connection"] == "close"
    assert fast.headers["x-moodline-instance"] == route.headers["x-moodline-instance"]
    assert 'moodline_http_requests_total{method="POST",route="/predict",status="200"} 2.0' in metrics


async def test_an_unexpected_failure_is_answered_as_the_app_answers_it(make_client, fast_answers, monkeypatch, caplog):
    from moodline.server import fast_predict

    def broken_reply(*_args: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(fast_predict, "predict_reply", broken_reply)
    async with make_client() as client:
        response = await client.post("/predict", json={"text": "fine"})
        metrics = (await client.get("/metrics")).text
    assert fast_answers == ["fine"]
    assert response.status_code == 500
    assert response.json() == {"error": {"type": "internal_error", "message": "internal server error", "details": []}}
    assert "x-moodline-instance" in response.headers
    assert 'route="/predict",status="500"' in metrics
    assert "secret internal detail" in caplog.text  # logged for the operator, never sent to the client
