"""Python client for a running moodline server, sync and async (httpx).

Example::

    from moodline import Client
    with Client("http://127.0.0.1:8000") as client:
        client.predict("It is worth it").label           # 'POSITIVE'
        [p.label for p in client.predict(["Great", "Awful"])]

    async with AsyncClient("http://127.0.0.1:8000") as client:
        prediction = await client.predict("It is worth it")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import httpx

from moodline.core.errors import MoodlineError
from moodline.inference.prediction import Prediction

__all__ = ["AsyncClient", "Client", "ServerError"]


class ServerError(MoodlineError):
    """The server answered with an error body; ``status_code`` and ``error_type`` are the server's."""

    def __init__(self, status_code: int, error_type: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status_code} {self.error_type}: {self.message}"


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _payload(texts: str | Sequence[str], long_text: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"text": texts} if isinstance(texts, str) else {"texts": list(texts)}
    if long_text:
        body["long_text"] = long_text
    return body


def _parse(response: httpx.Response) -> list[Prediction]:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            error_type, message = str(error["type"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            error_type, message = "http_error", response.text[:200] or response.reason_phrase
        retry = response.headers.get("retry-after")
        raise ServerError(response.status_code, error_type, message, float(retry) if retry else None)
    return [Prediction(**p) for p in response.json()["predictions"]]


class Client:
    """Blocking client; reuses one connection pool. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=url, headers=_headers(api_key), timeout=timeout, transport=transport)

    @overload
    def predict(self, texts: str, *, long_text: str | None = None) -> Prediction: ...  # type: ignore[overload-overlap]

    @overload
    def predict(self, texts: Sequence[str], *, long_text: str | None = None) -> list[Prediction]: ...

    def predict(self, texts: str | Sequence[str], *, long_text: str | None = None) -> Any:
        predictions = _parse(self._http.post("/predict", json=_payload(texts, long_text)))
        return predictions[0] if isinstance(texts, str) else predictions

    def info(self) -> dict[str, Any]:
        response = self._http.get("/info")
        if response.status_code >= 400:
            _parse(response)
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of :class:`Client`."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url, headers=_headers(api_key), timeout=timeout, transport=transport)

    @overload
    async def predict(self, texts: str, *, long_text: str | None = None) -> Prediction: ...  # type: ignore[overload-overlap]

    @overload
    async def predict(self, texts: Sequence[str], *, long_text: str | None = None) -> list[Prediction]: ...

    async def predict(self, texts: str | Sequence[str], *, long_text: str | None = None) -> Any:
        predictions = _parse(await self._http.post("/predict", json=_payload(texts, long_text)))
        return predictions[0] if isinstance(texts, str) else predictions

    async def info(self) -> dict[str, Any]:
        response = await self._http.get("/info")
        if response.status_code >= 400:
            _parse(response)
        result: dict[str, Any] = response.json()
        return result

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
