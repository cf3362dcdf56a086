"""Property-based requests generated from the OpenAPI schema (schemathesis): no input may cause a 5xx."""

from __future__ import annotations

import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings

from moodline.api import create_app
from moodline.settings import Settings
from tests.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_schema(tiny_engine):  # type: ignore[no-untyped-def]
    port = free_port()
    app = create_app(Settings(max_texts_per_request=16, max_text_chars=2000), engine=tiny_engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
    server.should_exit = True
    thread.join(timeout=10)


def test_no_request_causes_a_server_error(api_schema):  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /predict",
        "POST /batch_predict",
        "POST /v1/models/{name}:predict",
        "GET /info",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):  # type: ignore[no-untyped-def]
            response = case.call(timeout=30)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and {"type", "message", "details"} <= set(body["error"])

        check()
