"""The page and its assets are served by the app, outside the OpenAPI schema, and ship in the package."""

from __future__ import annotations

import asyncio
import re

import httpx

from moodline.core.settings import Settings
from moodline.server import create_app
from moodline.server.web import STATIC_DIR


def get(path: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        # No lifespan: the page, its assets and /docs need no model.
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://moodline.test") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def test_page_is_served_at_root():
    response = get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="static/js/main.js">' in response.text


def test_every_asset_the_page_references_is_served_locally():
    page = get("/").text
    references = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert references, "the page references no assets"
    for reference in references:
        if reference.startswith("data:"):
            continue
        if reference == "monitor/report":  # a page of its own that runs the checks (model and store), not an asset
            continue
        assert "://" not in reference and not reference.startswith("//"), f"{reference} is not on the server"
        assert get(f"/{reference}").status_code == 200, reference
    for module in (STATIC_DIR / "js").glob("*.js"):
        for imported in re.findall(r'from "([^"]+)"', module.read_text()):
            assert imported.startswith("./"), f"{module.name} imports {imported} from outside the package"
            assert (STATIC_DIR / "js" / imported).is_file(), f"{module.name} imports missing {imported}"


def test_vendored_chart_library_ships_with_its_licence():
    vendor = STATIC_DIR / "vendor" / "uplot"
    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert (vendor / "uPlot.iife.min.js").read_text().startswith("/*! https://github.com/leeoniya/uPlot")


def test_page_routes_stay_out_of_the_schema_and_docs_keep_working():
    paths = get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(path.startswith("/static") for path in paths)
    assert get("/docs").status_code == 200


def test_missing_asset_gets_the_one_error_body():
    response = get("/static/js/nothing-here.js")
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "not_found", "message": "Not Found", "details": []}}
