"""Real servers for integration tests, started on free loopback ports and always stopped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:  # Debian's PostgreSQL server tools (initdb, pg_ctl) are off the PATH
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
        found = str(versions[-1]) if versions else None
    if found is None:
        pytest.skip(f"{name} is not installed (make test installs it)")
    return found


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def image_command(host: str, port: int) -> list[str]:
    """The serving image's CMD from deploy/docker/Dockerfile, with ``host`` and ``port`` put in.

    Tests run exactly what the container runs; only the address changes (loopback, a free port).
    """
    from tests.deploy.dockerfile import Dockerfile

    command = Dockerfile.read().stage("serve").last("CMD").exec_form()
    if command[:2] != ["moodline", "serve"] or "--host" not in command or "--port" not in command:
        raise ValueError(f"the serving image's CMD is not `moodline serve --host H --port P`: {command}")
    command[command.index("--host") + 1] = host
    command[command.index("--port") + 1] = str(port)
    return command


def start_moodline(model: Path, port: int, name: str = "test", **settings: str) -> subprocess.Popen[bytes]:
    """`moodline serve` as the container image runs it (its CMD), in its own process group."""
    import os
    import sys

    script = Path(sys.executable).parent / "moodline"
    if not script.exists():
        pytest.skip("moodline is not installed in this environment (make test installs it)")
    env = {
        **os.environ,
        "MOODLINE_MODEL": str(model),
        "MOODLINE_INSTANCE_ID": name,
        "MOODLINE_THREADS": "1",
        "MOODLINE_WORKERS": "1",
    }
    env.update({f"MOODLINE_{key.upper()}": value for key, value in settings.items()})
    command = [str(script), *image_command("127.0.0.1", port)[1:]]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@contextmanager
def app_in_thread(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
