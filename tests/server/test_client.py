from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from moodline import AsyncClient, Client, ServerError
from moodline.cli import main


def test_sync_client_against_a_real_server(live_server, tiny_engine):
    url, key = live_server
    with Client(url, api_key=key) as client:
        one = client.predict("It is worth it")
        many = client.predict(["good", "bad", "fine"])
        info = client.info()
    assert one.label == tiny_engine.predict(["It is worth it"])[0].label
    assert [p.label for p in many] == [p.label for p in tiny_engine.predict(["good", "bad", "fine"])]
    assert info["model"]["name"] == "tiny" and info["auth"] is True


def test_client_raises_the_server_error(live_server):
    url, _ = live_server
    with Client(url, api_key="wrong") as client, pytest.raises(ServerError) as caught:
        client.predict("x")
    assert caught.value.status_code == 401 and caught.value.error_type == "unauthorized"
    with Client(url, api_key=live_server[1]) as client, pytest.raises(ServerError, match="text 0 is empty"):
        client.predict("  ")


def test_async_client(live_server):
    url, key = live_server

    async def run():
        async with AsyncClient(url, api_key=key) as client:
            return await asyncio.gather(*(client.predict(f"text {i}") for i in range(20)))

    results = asyncio.run(run())
    assert len(results) == 20 and all(r.label for r in results)


def test_cli_predict_with_url(live_server):
    url, key = live_server
    result = CliRunner().invoke(main, ["predict", "--url", url, "--api-key", key, "--json", "good", "bad"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == ["good", "bad"]
    refused = CliRunner().invoke(main, ["predict", "--url", url, "good"])
    assert refused.exit_code == 1 and "missing or invalid API key" in refused.output


def test_cli_predict_with_unreachable_url():
    result = CliRunner().invoke(main, ["predict", "--url", "http://127.0.0.1:9", "good"])
    assert result.exit_code == 1 and "cannot reach the moodline server" in result.output
