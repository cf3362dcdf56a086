"""Real servers for integration tests, started on free loopback ports and always stopped.

Also the one way a test says that a program, server or package it needs is missing: :func:`unavailable`
(through :func:`require_binary`, :func:`require_script` and :func:`require_module`). Outside CI that is a
skip with its reason, for contributors without those packages; under CI (``CI`` set, as CI services do)
it is a failure, because `make test` installs them all there and a skip would let CI pass without
running the test.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

# The values that mean "not CI"; the Makefile's system-deps target reads CI the same way.
_NOT_CI = frozenset({"", "0", "false", "no"})


def in_ci() -> bool:
    """True when ``CI`` is set to anything but empty, 0, false or no (CI services set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason`` (what is missing, and what installs it); fail instead under CI."""
    if in_ci():
        pytest.fail(f"{reason}; CI must run this test, so it fails here instead of skipping", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_binary(name: str, *alternatives: str) -> str:
    """The path of program ``name`` (or the first of ``alternatives`` found), else :func:`unavailable`.

    Looks in this Python's bin directory (tools from the dev extra), on PATH, in /usr/sbin (nginx, off
    a non-root PATH) and in Debian's PostgreSQL directories (initdb, pg_ctl, also off the PATH).
    """
    for candidate in (name, *alternatives):
        found = _find_program(candidate)
        if found is not None:
            return found
    names = " or ".join((name, *alternatives))
    unavailable(f"{names} is not installed (make test installs it)")


def _find_program(name: str) -> str | None:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None and Path(f"/usr/sbin/{name}").exists():
        found = f"/usr/sbin/{name}"
    if found is None:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
        found = str(versions[-1]) if versions else None
    return found


def require_script(name: str) -> Path:
    """A console script of this environment (``moodline``, ``mlflow``, ``locust``), else :func:`unavailable`.

    Only this Python's own bin directory counts: a ``moodline`` elsewhere on PATH would run other code.
    """
    script = Path(sys.executable).parent / name
    if not script.exists():
        unavailable(f"{name} is not installed in this environment (make test installs it)")
    return script


def require_module(name: str) -> ModuleType:
    """Import ``name`` (a package from one of moodline's extras), else :func:`unavailable`."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{name} cannot be imported ({exc}); make test installs it with moodline's extras")


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


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                require_binary("redis-server"),
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


class NginxServer:
    """nginx (Debian's, as `make test` installs it) on a free loopback port, running deploy/nginx's shared
    files as they ship in front of the moodline instances on ``instance_ports``, with compose's address
    files turned into loopback ones (tests/deploy/nginx.py).

    ``with NginxServer(directory, ports) as nginx:`` starts it and always stops it.
    """

    def __init__(self, directory: Path, instance_ports: Sequence[int]) -> None:
        from tests.deploy.nginx import lay_out, loopback_addresses

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        config = lay_out(directory, loopback_addresses(self.port, instance_ports))
        self.command = [require_binary("nginx"), "-p", str(directory), "-c", str(config)]
        self.process: subprocess.Popen[bytes] | None = None

    def loaded_files(self) -> dict[Path, str]:
        """Every file nginx reads for this configuration, as nginx names it, and the text it read (``nginx -T``)."""
        dump = subprocess.run(
            [*self.command, "-T", "-g", f"pid {self.directory / 'nginx.pid'};"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if dump.returncode != 0:
            raise RuntimeError(f"nginx -T failed: {dump.stderr}")
        parts = re.split(r"^# configuration file (.+):\n", dump.stdout, flags=re.M)
        # The dump ends each file's text with a line feed of its own.
        return {Path(name): text.removesuffix("\n") for name, text in zip(parts[1::2], parts[2::2], strict=True)}

    def start(self) -> None:
        # Its log goes to a file: a pipe nobody reads would stall nginx once full.
        with (self.directory / "error.log").open("wb") as log:
            self.process = subprocess.Popen(
                [*self.command, "-g", f"daemon off; pid {self.directory / 'nginx.pid'};"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            wait_for_port(self.port)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"nginx did not start: {self.error_log()}") from exc

    def error_log(self) -> str:
        return (self.directory / "error.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> NginxServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
    script = require_script("moodline")
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
def app_in_thread(app: object, **options: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL.

    ``options`` go to ``uvicorn.Config`` (e.g. ``http="h11"``: uvicorn picks httptools when installed).
    """
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))  # type: ignore[arg-type]
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
