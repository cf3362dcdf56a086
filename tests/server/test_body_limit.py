"""The 413 for an oversized body reaches every client, over a real socket.

Refused by its Content-Length, a body the client is still sending used to meet a closed connection:
clients that send the whole body before reading anything (Python's urllib, many simple HTTP
libraries) got a connection reset instead of the error. The server now reads and discards a bounded
amount of such a body so the answer arrives.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from moodline.core.settings import Settings
from moodline.server import create_app
from moodline.server.middleware import DRAIN_BYTES, DRAIN_SECONDS, BodySizeLimit
from tests.servers import app_in_thread

LIMIT = 1_000_000
# Larger than what loopback socket buffers take in without the server reading (about 4-8 MB on Linux):
# a smaller body would reach the kernel whole and hide the reset.
BODY = b'{"text": "' + b"x" * 12_000_000 + b'"}'


@pytest.fixture(params=["h11", "httptools"])
def server(request: pytest.FixtureRequest, tiny_engine):  # type: ignore[no-untyped-def]
    """A real uvicorn server with each of its HTTP implementations (it picks httptools when installed)."""
    app = create_app(Settings(max_body_bytes=LIMIT, threads=1, cache_size=0, api_keys=[]), engine=tiny_engine)
    with app_in_thread(app, http=request.param) as url:
        yield url


def test_urllib_reads_the_413_for_a_body_refused_by_its_content_length(server):
    request = urllib.request.Request(f"{server}/predict", data=BODY, headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert refused.value.headers["content-type"] == "application/json"
    error = json.loads(refused.value.read())["error"]
    assert error["type"] == "payload_too_large"
    assert error["message"] == f"request body exceeds {LIMIT:,} bytes"


def raw_request(url: str, headers: dict[str, str]) -> socket.socket:
    """A connection to the test server with this POST /predict head sent, and no body yet."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    sock = socket.create_connection((host, port), timeout=30)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{head}\r\n".encode())
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def assert_413(response: bytes) -> None:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), response[:200]
    assert json.loads(body)["error"]["type"] == "payload_too_large"


def test_a_body_declared_beyond_the_drain_bound_is_not_read(server):
    with raw_request(server, {"Content-Length": str(DRAIN_BYTES + 1)}) as sock:
        response, waited = read_until_closed(sock)
    assert_413(response)
    assert waited < DRAIN_SECONDS / 2  # closed at once, not after waiting for a body it would never read


def test_a_client_that_waits_for_100_continue_gets_the_413_instead(server):
    with raw_request(server, {"Content-Length": str(LIMIT + 1), "Expect": "100-continue"}) as sock:
        response, waited = read_until_closed(sock)
    assert_413(response)  # first and only: no "100 Continue" that would invite the body
    assert waited < DRAIN_SECONDS / 2


def test_an_endless_chunked_body_is_read_no_further_than_the_drain_bound(server):
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent = 0
    with raw_request(server, {"Transfer-Encoding": "chunked"}) as sock, pytest.raises(OSError):
        # The kernel's buffers on both ends take some more than the server reads; a 256 MiB cap ends the test.
        while sent < 256 * 1024 * 1024:
            sock.sendall(chunk)
            sent += len(chunk)
    assert DRAIN_BYTES < sent < DRAIN_BYTES + 96 * 1024 * 1024


def test_a_stalled_body_is_waited_for_no_longer_than_the_drain_time(tiny_engine):
    app = create_app(Settings(threads=1, cache_size=0, api_keys=[]), engine=tiny_engine)
    with app_in_thread(BodySizeLimit(app, LIMIT, drain_seconds=1.0)) as url:
        with raw_request(url, {"Content-Length": str(LIMIT + 1)}) as sock:
            sock.sendall(b"x" * 1000)  # then nothing more
            response, waited = read_until_closed(sock)
    assert_413(response)
    assert 0.5 < waited < 5
