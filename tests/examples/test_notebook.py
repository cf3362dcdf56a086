"""The example notebook runs top to bottom against a real `moodline serve` with the bundled model."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from moodline.inference.sources import BUNDLED_MODEL_DIR, BUNDLED_MODEL_NAME
from tests.servers import free_port, require_module, start_moodline, wait_for_port

nbclient = require_module("nbclient")
nbformat = require_module("nbformat")

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).parents[2] / "examples" / "calling_the_api.ipynb"


def _outputs(notebook: nbformat.NotebookNode) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def test_example_notebook_calls_a_running_server(monkeypatch):
    port = free_port()
    server = start_moodline(BUNDLED_MODEL_DIR, port)
    try:
        wait_for_port(port, timeout=60)
        monkeypatch.setenv("MOODLINE_URL", f"http://127.0.0.1:{port}")
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    shown = _outputs(notebook)
    assert BUNDLED_MODEL_NAME in shown  # client.info()
    assert "label='POSITIVE'" in shown  # the single prediction's repr
    assert "NEGATIVE" in shown and "It is a waste of time and money" in shown
    assert "422 invalid_input: text 0 is empty or whitespace only" in shown  # the ServerError cell
    assert "image/png" in str(notebook.cells[-2].outputs)  # the chart cell drew
