from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.server import create_app
from tests.server.conftest import BrokenEngine, SlowEngine, clone_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def assert_error_body(response: httpx.Response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "details"}
    assert body["error"]["type"] == error_type and body["error"]["message"]
    return body


@pytest.mark.parametrize(
    ("body", "count", "single"),
    [
        ({"text": "It is worth it"}, 1, True),
        ({"text": ["good", "bad"]}, 2, False),
        ({"texts": ["good", "bad", "fine"]}, 3, False),
        ({"review": "A charming film"}, 1, True),
        ({"inputs": "good"}, 1, True),
        ({"inputs": ["good", "bad"]}, 2, False),
    ],
)
async def test_every_request_shape(make_client, tiny_engine, body, count, single):
    async with make_client() as client:
        response = await client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    texts = [body[k] for k in body][0]
    texts = [texts] if isinstance(texts, str) else texts
    expected = tiny_engine.predict(texts)
    assert [p["label"] for p in data["predictions"]] == [p.label for p in expected]
    assert len(data["predictions"]) == count
    for out, ref in zip(data["predictions"], expected, strict=True):
        assert out["scores"] == pytest.approx(ref.scores, abs=1e-5)
        assert out["truncated"] is False and out["chunks"] == 1
    assert ("label" in data) is single
    assert data["model"]["name"] == "tiny"
    for header in ("x-moodline-total-ms", "x-moodline-queue-ms", "x-moodline-inference-ms", "server-timing"):
        assert header in response.headers


async def test_batch_predict_and_kserve(make_client):
    async with make_client() as client:
        batch = await client.post("/batch_predict", json={"texts": ["good", "bad"]})
        kserve = await client.post("/v1/models/tiny:predict", json={"instances": ["good", {"text": "bad"}]})
        alias = await client.post("/v1/models/moodline:predict", json={"instances": ["good"]})
        unknown = await client.post("/v1/models/other:predict", json={"instances": ["good"]})
        missing = await client.post("/v1/models/tiny:predict", json={"instances": [{"txt": "x"}]})
    assert batch.status_code == 200 and len(batch.json()["predictions"]) == 2
    assert kserve.status_code == 200 and [p["label"] for p in kserve.json()["predictions"]] == [
        p["label"] for p in batch.json()["predictions"]
    ]
    assert alias.status_code == 200
    assert_error_body(unknown, 404, "model_not_found")
    assert_error_body(missing, 422, "invalid_input")


async def test_long_text_is_flagged_or_chunked(make_client):
    long = "good " * 300
    async with make_client() as client:
        truncated = (await client.post("/predict", json={"text": long})).json()["predictions"][0]
        chunked = (await client.post("/predict", json={"text": long, "long_text": "chunk"})).json()["predictions"][0]
    assert truncated["truncated"] is True and truncated["chunks"] == 1
    assert chunked["truncated"] is False and chunked["chunks"] > 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give exactly one of"),
        ({"text": "a", "texts": ["b"]}, "(got text, texts)"),
        ({"text": ""}, "text 0 is empty"),
        ({"texts": ["ok", "   "]}, "text 1 is empty"),
        ({"texts": []}, "no texts given"),
        ({"texts": ["x"] * 11}, "11 texts in one request; the limit is 10"),
        ({"text": "x" * 101}, "101 characters; the limit is 100"),
        ({"text": 5}, None),
        ({"text": "ok", "colour": "red"}, None),
    ],
)
async def test_invalid_requests_get_422_with_the_error_body(make_client, body, message):
    async with make_client(max_texts_per_request=10, max_text_chars=100) as client:
        response = await client.post("/predict", json=body)
    data = assert_error_body(response, 422, "invalid_input")
    if message:
        assert message in data["error"]["message"]


async def test_malformed_json_is_a_422_not_a_500(make_client):
    async with make_client() as client:
        response = await client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert_error_body(response, 422, "invalid_input")


async def test_body_size_limit_by_header_and_by_stream(make_client):
    big = b'{"text": "' + b"x" * 5000 + b'"}'

    async def chunks():
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    async with make_client(max_body_bytes=2048) as client:
        declared = await client.post("/predict", content=big, headers={"content-type": "application/json"})
        streamed = await client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
        small = await client.post("/predict", json={"text": "fine"})
    assert_error_body(declared, 413, "payload_too_large")
    assert_error_body(streamed, 413, "payload_too_large")
    assert small.status_code == 200


async def test_api_keys(make_client):
    async with make_client(api_keys="alpha,beta") as client:
        none = await client.post("/predict", json={"text": "x"})
        wrong = await client.post("/predict", json={"text": "x"}, headers={"Authorization": "Bearer gamma"})
        basic = await client.post("/predict", json={"text": "x"}, headers={"Authorization": "Basic beta"})
        good = await client.post("/predict", json={"text": "x"}, headers={"Authorization": "Bearer beta"})
        live = await client.get("/livez")
    for response in (none, wrong, basic):
        assert_error_body(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert good.status_code == 200 and live.status_code == 200


def test_api_keys_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MOODLINE_API_KEYS", "one, two")
    assert Settings().api_keys == ["one", "two"]


async def test_not_ready_until_the_lifespan_has_loaded_the_model(tiny_engine):
    app = create_app(Settings(), engine=tiny_engine)  # lifespan not started: nothing loaded
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/livez")).status_code == 200
        assert_error_body(await client.get("/readyz"), 503, "not_ready")
        assert_error_body(await client.post("/predict", json={"text": "x"}), 503, "not_ready")


async def test_unknown_route_and_method_use_the_error_body(make_client):
    async with make_client() as client:
        assert_error_body(await client.get("/nowhere"), 404, "not_found")
        assert_error_body(await client.get("/predict"), 405, "method_not_allowed")


async def test_concurrent_requests_are_batched_and_answered_in_order(make_client, tiny_engine):
    texts = [f"review number {i} was {'great' if i % 3 else 'awful'} " + "really " * (i % 7) for i in range(120)]
    expected = dict(zip(texts, tiny_engine.predict(texts), strict=True))
    async with make_client(max_latency_ms=20, cache_size=0) as client:
        responses = await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))
        pairs = await asyncio.gather(
            *(client.post("/predict", json={"texts": [t, texts[-1 - i]]}) for i, t in enumerate(texts[:30]))
        )
        metrics = (await client.get("/metrics")).text
    for text, response in zip(texts, responses, strict=True):
        assert response.status_code == 200
        assert response.json()["predictions"][0]["scores"] == pytest.approx(expected[text].scores, abs=1e-5)
    for i, response in enumerate(pairs):
        got = response.json()["predictions"]
        assert got[0]["scores"] == pytest.approx(expected[texts[i]].scores, abs=1e-5)
        assert got[1]["scores"] == pytest.approx(expected[texts[-1 - i]].scores, abs=1e-5)
    count = float(
        next(line.split()[-1] for line in metrics.splitlines() if line.startswith("moodline_batch_size_count"))
    )
    assert count < 150 / 2  # 180 texts went through in far fewer engine batches than requests


async def test_full_queue_answers_429_with_retry_after(make_client, tiny_engine):
    slow = clone_engine(tiny_engine, SlowEngine)
    async with make_client(engine=slow, max_queue_size=4, max_batch_size=2, cache_size=0) as client:
        responses = await asyncio.gather(*(client.post("/predict", json={"text": f"t{i}"}) for i in range(20)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and 200 in statuses and 429 in statuses
    for response in responses:
        if response.status_code == 429:
            assert_error_body(response, 429, "overloaded")
            assert int(response.headers["retry-after"]) >= 1


async def test_requests_past_their_deadline_get_503(make_client, tiny_engine):
    slow = clone_engine(tiny_engine, SlowEngine)
    async with make_client(engine=slow, max_batch_size=1, request_timeout_s=0.3, cache_size=0) as client:
        responses = await asyncio.gather(*(client.post("/predict", json={"text": f"t{i}"}) for i in range(6)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1 and set(statuses) <= {200, 503}
    timed_out = next(r for r in responses if r.status_code == 503)
    assert_error_body(timed_out, 503, "timeout")


class BusyEngine(SlowEngine):
    """An engine call far longer than the request timeout, so that a timer late by a busy machine's
    scheduling delay still fires long before the engine gets free."""

    delay_s = 1.0


async def test_deadline_answers_503_on_time_while_the_engine_is_busy(make_client, tiny_engine):
    busy = clone_engine(tiny_engine, BusyEngine)
    async with make_client(engine=busy, max_batch_size=1, request_timeout_s=0.1, cache_size=0) as client:
        responses = await asyncio.gather(*(client.post("/predict", json={"text": f"t{i}"}) for i in range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503, 503]
    for response in responses:
        if response.status_code == 503:
            message = response.json()["error"]["message"]
            found = re.fullmatch(r"request waited (\d+\.\d)s in the queue; the limit is 0\.1s", message)
            assert found is not None, message
            # Answered by the deadline timer (at 0.1 s, later on a busy machine), while the first text
            # was still in the engine; the worker, once free, would have answered after 1.0 s or more.
            assert float(found[1]) < BusyEngine.delay_s, message


async def test_a_queue_longer_than_the_timeout_is_refused_at_once(make_client, tiny_engine):
    slow = clone_engine(tiny_engine, SlowEngine)  # 0.2 s per engine call of one text, more on a busy machine
    async with make_client(engine=slow, max_batch_size=1, request_timeout_s=1.0, cache_size=0) as client:
        warm_up = await client.post("/predict", json={"text": "warm-up measures the speed"})
        responses = await asyncio.gather(*(client.post("/predict", json={"text": f"t{i}"}) for i in range(20)))
        info = (await client.get("/info")).json()
    assert warm_up.status_code == 200
    # The batcher's one measurement so far is the warm-up's engine call: so many texts fit in the timeout
    # (about 1.0 s / 0.2 s = 5, fewer when the machine is busy). The burst arrives at once, so those are
    # let in, and perhaps one or two more that the worker took off the queue meanwhile; the rest could
    # only time out, so they get 429 now. Let in, a text may still time out (503) if the engine slows.
    fits = max(2, int(1.0 / (float(warm_up.headers["x-moodline-inference-ms"]) / 1000)))
    statuses = [r.status_code for r in responses]
    admitted = statuses.count(200) + statuses.count(503)
    assert fits <= admitted <= fits + 2 and statuses.count(200) >= 1, (fits, statuses)
    assert set(statuses) <= {200, 429, 503}
    assert info["batching"]["max_queue_size"] == 4096  # the count limit was nowhere near


async def test_engine_failure_is_a_500_without_internals(make_client, tiny_engine):
    async with make_client(engine=clone_engine(tiny_engine, BrokenEngine), cache_size=0) as client:
        response = await client.post("/predict", json={"text": "x"})
        after = await client.get("/livez")
    body = assert_error_body(response, 500, "inference_error")
    assert "passwd" not in response.text and "secret" not in body["error"]["message"]
    assert after.status_code == 200


async def test_cache_hits_are_reported(make_client):
    async with make_client() as client:
        first = await client.post("/predict", json={"text": "Same   text"})
        second = await client.post("/predict", json={"text": "Same text"})
        metrics = (await client.get("/metrics")).text
    assert first.headers["x-moodline-cache-hits"] == "0" and second.headers["x-moodline-cache-hits"] == "1"
    assert second.json()["predictions"] == first.json()["predictions"]
    assert "moodline_cache_hits_total 1.0" in metrics


async def test_info_and_metrics(make_client):
    async with make_client(max_batch_size=16) as client:
        await client.post("/predict", json={"text": "x"})
        info = (await client.get("/info")).json()
        metrics = (await client.get("/metrics")).text
        ready = (await client.get("/readyz")).json()
    assert info["model"]["labels"] == ["negative", "neutral", "positive"] and "path" not in info["model"]
    assert info["batching"]["max_batch_size"] == 16
    assert ready["status"] == "ready"
    for name in (
        "moodline_http_requests_total",
        "moodline_http_request_duration_seconds_bucket",
        "moodline_batch_size_bucket",
        "moodline_queue_depth",
        "moodline_inference_seconds_bucket",
        "moodline_cache_misses_total",
    ):
        assert name in metrics
    assert 'route="/predict",status="200"' in metrics


async def test_three_way_option_matches_the_scorer(make_client, tiny_engine):
    from moodline.inference.three_way import ThreeWayScorer

    texts = ["good", "bad", "so so", "great stuff"]
    async with make_client() as client:
        response = await client.post("/predict", json={"texts": texts, "three_way": True})
        plain = await client.post("/predict", json={"texts": texts})
    assert response.status_code == 200, response.text
    expected = ThreeWayScorer(tiny_engine).score(texts)
    got = response.json()["predictions"]
    assert [p["label"] for p in got] == [e.label for e in expected]
    assert [p["sentiment"] for p in got] == pytest.approx([e.sentiment for e in expected], abs=1e-5)
    assert all("sentiment" not in p for p in plain.json()["predictions"])


async def test_neutral_band_setting(make_client):
    from moodline.inference.engine import Engine
    from moodline.inference.sources import SST2_MODEL_NAME

    binary = Engine.load(SST2_MODEL_NAME)
    async with make_client(engine=binary, neutral_band="0,1") as client:  # a binary model: the band applies
        response = await client.post("/predict", json={"texts": ["good", "bad"], "three_way": True})
    assert [p["label"] for p in response.json()["predictions"]] == ["neutral", "neutral"]


async def test_two_way_renormalises_a_three_label_model(make_client, tiny_engine):
    from moodline.inference.three_way import to_two_way

    texts = ["good", "bad", "so so"]
    async with make_client() as client:
        two = await client.post("/predict", json={"texts": texts, "two_way": True})
        single = await client.post("/predict", json={"text": "so so", "two_way": True})
        both = await client.post("/predict", json={"text": "so so", "two_way": True, "three_way": True})
    assert two.status_code == 200, two.text
    expected = [to_two_way(p) for p in tiny_engine.predict(texts)]
    got = two.json()["predictions"]
    assert [p["label"] for p in got] == [e.label for e in expected]
    assert all(set(p["scores"]) == {"negative", "positive"} for p in got)
    assert [sum(p["scores"].values()) for p in got] == pytest.approx([1.0] * 3)
    assert single.json()["label"] == expected[2].label  # top-level label and score too
    assert both.status_code == 422 and "two_way" in both.json()["error"]["message"]


async def test_keepalive_connections_are_recycled_about_every_n_requests(make_client):
    async with make_client(keepalive_requests=10) as client:
        recycled = [(await client.get("/info")).headers.get("connection") == "close" for _ in range(2000)]
        probes = [(await client.get("/livez")).headers.get("connection") for _ in range(200)]
    async with make_client(keepalive_requests=0) as client:
        kept = [(await client.get("/livez")).headers.get("connection") for _ in range(200)]
    assert 120 <= sum(recycled) <= 290  # binomial(2000, 1/10): 200 +- 6 standard deviations
    assert kept == [None] * 200
    assert probes == [None] * 200  # health probes keep their connection
