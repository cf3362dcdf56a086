"""Gunicorn settings for ``moodline serve`` (and ``gunicorn -c gunicorn.conf.py``).

Uvicorn workers run the FastAPI app; each worker loads its own model. Everything comes from the one
:class:`~moodline.core.settings.Settings` (``MOODLINE_HOST``, ``MOODLINE_PORT``, ``MOODLINE_WORKERS``,
``MOODLINE_WORKER_TIMEOUT``, ...), the same the app reads. On SIGTERM Gunicorn stops accepting
connections and gives workers ``graceful_timeout`` seconds; the app's lifespan drains its queue
before exiting.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Any

from moodline.core.settings import Settings
from moodline.server import worker_load

_settings = Settings()
_host, _port = _settings.host, _settings.port

bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = _settings.workers
worker_class = "uvicorn.workers.UvicornWorker"
# Model loading can take a few seconds per worker; heartbeats are not blocked by inference
# (it runs in a thread), so a modest timeout still catches a truly stuck worker.
timeout = _settings.worker_timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keepalive_s  # see Settings.keepalive_s: the client should close an idle connection first
backlog = 2048
# Each worker listens on a socket of its own, bound with SO_REUSEPORT, and the kernel spreads new
# connections over them by address hash. On one shared socket whichever worker woke first accepted
# most of a burst: 32 connections opened at once split 1/31 or 2/30 in some trials, and keep-alive
# kept one worker busy with batches of 25 while the other ran batches of 5. With a socket per worker
# the same trials split between 13/19 and 16/16. Linux only: elsewhere SO_REUSEPORT does not balance.
reuse_port = sys.platform.startswith("linux")
accesslog = _settings.access_log or None
errorlog = "-"
loglevel = _settings.log_level
wsgi_app = "moodline.server.app:create_app()"


def address_in_use(host: str, port: int) -> bool:
    """Whether a server already listens on ``host:port``.

    Workers bind with SO_REUSEPORT (see ``reuse_port``), which would also let them bind next to a
    server already there, even another moodline, and silently take half its traffic; so the port is
    checked first, with a plain bind that fails where anything listens.
    """
    if port == 0:
        return False
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is not a server
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def on_starting(server: Any) -> None:
    # Here, not in `moodline serve`, so `gunicorn -c gunicorn.conf.py` is checked the same way.
    if reuse_port and address_in_use(_host, _port):
        server.log.error("%s:%s is already in use by another server", _host, _port)
        raise SystemExit(1)
    # Before any fork: every worker must map the same page (see moodline.server.worker_load).
    worker_load.open_shared_board()
    # With several workers, Prometheus metrics are aggregated through files in this directory.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))


# Seconds a thread waiting for the GIL lets the running one go on (Python's default: 5 ms). Each
# ONNX Runtime call releases the GIL and must take it back from the busy event loop; at 5 ms that wait
# is as long as a whole engine call of the bundled model. 1 ms measured up to 50 % more sentences/s
# at 32 clients on a loaded machine, and never less (benchmarks/serve.py).
GIL_SWITCH_INTERVAL_S = 0.001


def post_worker_init(_worker: object) -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


# The load board's slots (moodline.server.worker_load): the master hands each new worker a slot no live
# worker holds, the worker records it right after the fork, and a dead worker's slot is cleared, since
# a worker killed in the middle of a batch would otherwise look busy for ever.
def pre_fork(server: Any, worker: Any) -> None:
    in_use = {getattr(live, "moodline_slot", None) for live in server.WORKERS.values()}
    worker.moodline_slot = worker_load.assign_slot({slot for slot in in_use if slot is not None})


def post_fork(_server: Any, worker: Any) -> None:
    worker_load.take_slot(getattr(worker, "moodline_slot", None))


def child_exit(_server: Any, worker: Any) -> None:
    worker_load.release_slot(getattr(worker, "moodline_slot", None))
