"""``moodline serve``: the HTTP API under Gunicorn with Uvicorn workers."""

from __future__ import annotations

import os
import sys

import click

from moodline.cli.options import (
    CONTEXT,
    model_help,
)
from moodline.core.errors import InvalidInputError
from moodline.core.extras import require_extra

__all__ = ["serve"]


@click.command(context_settings=CONTEXT)
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or MOODLINE_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000, or MOODLINE_PORT).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Gunicorn workers (default: one per core).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker.")
@click.option("--model", "-m", default=None, help=model_help)
@click.option("--api-key", "api_keys", multiple=True, help="Require this bearer key (repeatable).")
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    threads: int | None,
    model: str | None,
    api_keys: tuple[str, ...],
) -> None:
    """Start the HTTP API under Gunicorn with Uvicorn workers.

    \b
    Example:
      moodline serve --port 8000 --workers 1
      curl -s localhost:8000/predict -d '{"text": "It is worth it"}' -H 'content-type: application/json'
    """
    import shutil

    require_extra("serve", "fastapi", "uvicorn", "gunicorn", "prometheus_client", "multipart", purpose="moodline serve")
    overrides = {
        "MOODLINE_HOST": host,
        "MOODLINE_PORT": port,
        "MOODLINE_WORKERS": workers,
        "MOODLINE_THREADS": threads,
        "MOODLINE_MODEL": model,
        "MOODLINE_API_KEYS": ",".join(api_keys) if api_keys else None,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(value)
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Every worker writes its metrics there and a scrape of any worker sums them all; without it
        # /metrics would show only the worker that happened to answer.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="moodline-metrics-")
    from moodline.core.settings import Settings
    from moodline.inference.engine import Engine
    from moodline.server import gunicorn_config

    settings = Settings()
    Engine.load(settings.model, settings=settings, backend=settings.backend)  # fail here, not in every worker
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise InvalidInputError("gunicorn is not installed; pip install gunicorn")
    os.execv(gunicorn, [gunicorn, "--config", f"python:{gunicorn_config.__name__}"])
