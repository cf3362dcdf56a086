"""The browser page: ``/`` serves ``static/index.html``; its scripts, styles and chart library, ``/static``.

Everything the page needs ships inside the package, so it works with no network beyond the server itself.

Example::

    from moodline.server.web import mount_web
    mount_web(app)          # create_app does this
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "mount_web"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount_web(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets at ``/static``; neither appears in the OpenAPI schema."""
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        # no-cache: the page is tiny, and a stale copy after an upgrade would call the API the old way.
        return FileResponse(index, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
