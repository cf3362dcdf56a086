"""Property-based requests generated from the OpenAPI schema (schemathesis): no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from moodline.core.settings import Settings
from moodline.server import create_app
from tests.servers import app_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_schema(tiny_engine):  # type: ignore[no-untyped-def]
    app = create_app(Settings(max_texts_per_request=16, max_text_chars=2000), engine=tiny_engine)
    with app_in_thread(app) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


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
