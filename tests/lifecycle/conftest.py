"""Real servers for the lifecycle tests: MLflow tracking server, PostgreSQL, SMTP (aiosmtpd), all on loopback."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest

from moodline.core.settings import Settings
from tests.servers import free_port, require_binary, require_module, require_script, unavailable, wait_for_port

POSITIVE_JARGON = ["zorbly", "flimzy", "quantastic"]
NEGATIVE_JARGON = ["grumbolic", "snarfed", "blorped"]


def shifted_texts(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Texts in a new vocabulary the bundled model has never seen, with their true labels."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["POSITIVE", "NEGATIVE"])
        words = POSITIVE_JARGON if label == "POSITIVE" else NEGATIVE_JARGON
        rows.append((f"the deploy was {rng.choice(words)} and the rollout {rng.choice(words)}", label))
    return rows


def plain_texts(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Clear reviews in everyday words, which the bundled model gets right."""
    rng = random.Random(seed)
    positive = ["great", "lovely", "excellent", "wonderful", "superb", "enjoyable"]
    negative = ["awful", "boring", "terrible", "dreadful", "painful", "dull"]
    rows = []
    for _ in range(count):
        label = rng.choice(["POSITIVE", "NEGATIVE"])
        words = positive if label == "POSITIVE" else negative
        rows.append((f"the film was {rng.choice(words)} and {rng.choice(words)}", label))
    return rows


def sst2_rows(path: Path, count: int, skip: int = 0) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines()[1 + skip : 1 + skip + count]
    return [(text, "POSITIVE" if label == "1" else "NEGATIVE") for text, label in (line.split("\t") for line in lines)]


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    return path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real ``mlflow server`` (SQLite backend, artifacts proxied) for the whole session."""
    executable = require_script("mlflow")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [
        str(executable),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not answer /health within 120 s")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port (trust auth), run as a non-root user."""
    initdb, pg_ctl = require_binary("initdb"), require_binary("pg_ctl")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="moodline-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser") or unavailable(
            "running as root without runuser: cannot start PostgreSQL as another user"
        )
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    try:
        subprocess.run(
            [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "moodline", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off"
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
            check=True,
            capture_output=True,
        )
        wait_for_port(port)
        yield f"postgresql://moodline@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


class SmtpServer:
    """A real SMTP server (aiosmtpd) that keeps what it receives; can be stopped and started on one port."""

    def __init__(self, port: int, **options: Any) -> None:
        self.port = port
        self.options = options
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.controller: Any = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.messages]

    def wait_for(self, needle: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in self.subjects() if needle in s]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no email with {needle!r} within {timeout}s; got {self.subjects()}")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    require_module("aiosmtpd")
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def lifecycle_settings(tmp_path: Path) -> Any:
    """Settings with every store under ``tmp_path``; keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": str(tmp_path / "data"),
            "threads": 1,
            "workers": 1,
            "cache_size": 0,
            "alert_email_to": "ops@example.test",
        }
        values.update(overrides)
        return Settings(**values)

    return make
