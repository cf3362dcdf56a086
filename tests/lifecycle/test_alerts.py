from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request

from moodline.cli import main
from moodline.cli.lifecycle import CHECK_FAILED_EXIT
from moodline.core.settings import get_settings
from moodline.inference.engine import Engine
from moodline.inference.sources import SST2_MODEL_NAME
from moodline.lifecycle.alerts import AlertDispatcher
from moodline.lifecycle.checks import ModelFacts, Monitor
from moodline.lifecycle.store import Store
from tests.lifecycle.conftest import SmtpServer, plain_texts
from tests.servers import app_in_thread, free_port, require_module

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bundled() -> Engine:
    # The lifecycle tests feed binary (POSITIVE/NEGATIVE) feedback: the shipped binary model fits them.
    return Engine.load(SST2_MODEL_NAME, threads=1)


def add_feedback(store: Store, count: int, *, correct: bool, seed: int) -> None:
    for text, label in plain_texts(count, seed=seed):
        wrong = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
        store.add_feedback(text=text, label=label if correct else wrong)


def accuracy_subjects(server: SmtpServer) -> list[str]:
    return [s for s in server.subjects() if "] accuracy failing" in s]


@pytest.fixture
def webhook() -> Any:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    with app_in_thread(app) as url:
        yield f"{url}/hook", received


def test_an_alert_waits_out_an_smtp_outage_and_is_sent_once(bundled, tmp_path, lifecycle_settings, webhook):
    hook_url, hooks = webhook
    port = free_port()
    smtp = SmtpServer(port)  # not started: the SMTP server is down when the check first fails
    settings = lifecycle_settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_timeout_s=2,
        alert_retry_base_s=0.2, alert_retry_max_s=0.5, alert_webhook_url=hook_url,
        baseline_accuracy=0.95, accuracy_min_samples=20, monitor_recent=30,
    )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    dispatcher = AlertDispatcher(store, settings)
    monitor = Monitor(store, settings, bundled, ModelFacts.of(bundled, settings))
    add_feedback(store, 30, correct=False, seed=1)

    assert dispatcher.raise_for(monitor.run()) == ["accuracy"]
    stats = dispatcher.deliver_due()
    assert (stats.sent, stats.failed) == (1, 1)  # the webhook went out; the email waits
    assert len(hooks) == 1 and "accuracy" in hooks[0]["text"]
    [pending] = store.alerts("pending")
    assert pending.channel == "email" and "Connection refused" in (pending.last_error or "")

    for _ in range(3):  # the problem goes on: checked again and again, never queued again
        assert dispatcher.raise_for(monitor.run()) == []
        time.sleep(0.25)
        dispatcher.deliver_due()
    assert store.alerts("pending")[0].attempts >= 2

    smtp.start()
    try:
        deadline = time.monotonic() + 10
        while not smtp.messages and time.monotonic() < deadline:
            dispatcher.raise_for(monitor.run())
            dispatcher.deliver_due()
            time.sleep(0.1)
        assert len(accuracy_subjects(smtp)) == 1
        message = smtp.messages[0]
        assert message["To"] == "ops@example.test"
        assert "accuracy" in message.get_payload() and "FAIL" in message.get_payload()
        assert store.alerts("pending") == []
        for _ in range(3):
            dispatcher.raise_for(monitor.run())
            dispatcher.deliver_due()
        assert len(smtp.messages) == 1 and len(hooks) == 1  # no duplicates

        # The check recovers, then fails anew: a new episode alerts again, once.
        add_feedback(store, 30, correct=True, seed=2)
        assert monitor.accuracy().status == "ok"
        assert dispatcher.raise_for(monitor.run()) == []
        add_feedback(store, 30, correct=False, seed=3)
        assert dispatcher.raise_for(monitor.run()) == ["accuracy"]
        dispatcher.deliver_due()
        assert len(accuracy_subjects(smtp)) == 2 and len(hooks) == 2
    finally:
        smtp.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_starttls_with_login(bundled, tmp_path, lifecycle_settings):
    require_module("aiosmtpd")
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"alerts" and data.password == b"s3cret")

    smtp = SmtpServer(free_port(), tls_context=context, require_starttls=True, authenticator=authenticator,
                      auth_require_tls=True)  # fmt: skip
    smtp.start()
    try:
        settings = lifecycle_settings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="starttls", smtp_username="alerts",
            smtp_password="s3cret", smtp_ca_file=str(cert),
        )  # fmt: skip
        store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        dispatcher = AlertDispatcher(store, settings)
        dispatcher.notify("test:1", "[moodline] test alert", "body")
        assert dispatcher.deliver_due().sent == 1
        assert smtp.subjects() == ["[moodline] test alert"] and logins == [(b"alerts", b"s3cret")]
    finally:
        smtp.stop()


def test_monitor_check_command_prints_json_and_exits_3_on_failure(bundled, tmp_path, monkeypatch, smtp_server):
    monkeypatch.setenv("MOODLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOODLINE_BASELINE_ACCURACY", "0.95")
    monkeypatch.setenv("MOODLINE_ACCURACY_MIN_SAMPLES", "20")
    monkeypatch.setenv("MOODLINE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MOODLINE_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("MOODLINE_SMTP_SECURITY", "none")
    monkeypatch.setenv("MOODLINE_ALERT_EMAIL_TO", "a@example.test,b@example.test")
    get_settings.cache_clear()
    try:
        from moodline.core.locations import store_url

        store = Store.open(store_url(get_settings()))
        add_feedback(store, 20, correct=True, seed=4)
        passing = CliRunner().invoke(main, ["monitor", "check", "--model", SST2_MODEL_NAME])
        assert passing.exit_code == 0, passing.output
        assert json.loads(passing.output)["ok"] is True
        add_feedback(store, 40, correct=False, seed=5)
        failing = CliRunner().invoke(main, ["monitor", "check", "--model", SST2_MODEL_NAME])
        assert failing.exit_code == CHECK_FAILED_EXIT, failing.output
        report = json.loads(failing.output)
        assert report["failing"] == ["accuracy"]
        assert smtp_server.wait_for("accuracy failing", timeout=5)
        assert smtp_server.messages[0]["To"] == "a@example.test, b@example.test"
        text = CliRunner().invoke(main, ["monitor", "check", "--model", SST2_MODEL_NAME, "--report"])
        assert text.exit_code == CHECK_FAILED_EXIT and "FAIL accuracy" in text.output
        assert len(smtp_server.messages) == 1
    finally:
        get_settings.cache_clear()
