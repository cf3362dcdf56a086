"""The serving benchmark's open-loop load generator: the rate it offers, what it counts, where latency starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.open_loop import open_loop


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the servers under test
    serial = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/slow":  # one request at a time, 30 ms each: about 33 a second at most
            with self.serial:
                time.sleep(0.03)
        body = b'{"label": "POSITIVE"}'
        self.send_response(503 if self.path == "/fail" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_rate_asked_for_is_offered_and_every_answer_counted():
    with http_server() as url:
        result = open_loop(f"{url}/ok", [b'{"text": "a"}', b'{"text": "b"}'], rate=100, duration=1.0)
    assert result.completed == 100 and result.errors == 0
    assert 80 <= result.offered <= 120
    assert result.connections >= 1


def test_refusals_are_errors():
    with http_server() as url:
        result = open_loop(f"{url}/fail", [b"{}"], rate=50, duration=0.4)
    assert result.completed == 20 and result.errors == 20


def test_latency_counts_from_when_a_request_was_due_so_queueing_shows():
    """Offered three times what the server can do: a closed loop would see 30 ms per request; here the queue shows."""
    with http_server() as url:
        result = open_loop(f"{url}/slow", [b"{}"], rate=100, duration=1.0)
    assert result.completed == 100
    assert result.p50_ms >= 30
    assert result.p99_ms > 1000  # the last requests waited for the ~70 ahead of them
