"""Alerts through a persistent outbox: email over SMTP and a Slack-compatible webhook.

An alert is first written to the outbox table (one row per channel), then delivered. A failed
delivery stays pending and is retried with exponential backoff (``alert_retry_base_s`` doubling up
to ``alert_retry_max_s``) until it goes through: an SMTP outage delays alerts, it never loses them.

A check alerts once when it starts failing, not at every run: the check's stored state flips from
passing to failing in one conditional update, and the outbox key ``check:<name>:<episode>`` is unique
per channel. Once the check passes again, a new failure is a new episode and alerts again.

Example::

    dispatcher = AlertDispatcher(store, settings)
    dispatcher.raise_for(report)      # queue alerts for checks that just started failing
    dispatcher.deliver_due()          # send what is due; failures are retried later
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from moodline.core.settings import Settings
from moodline.lifecycle.checks import MonitorReport
from moodline.lifecycle.store import OutboxAlert, Store

__all__ = ["AlertDispatcher", "DeliveryStats"]

log = logging.getLogger("moodline.lifecycle")


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0


class AlertDispatcher:
    """Turns check reports into outbox rows and delivers the outbox."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def channels(self) -> list[str]:
        s = self.settings
        found = []
        if s.smtp_host and s.alert_email_to:
            found.append("email")
        if s.alert_webhook_url:
            found.append("webhook")
        return found

    def raise_for(self, report: MonitorReport) -> list[str]:
        """Record each check's state; queue an alert for every check that just started failing.

        Returns the names of the checks that started failing now (the ones that alerted).
        """
        started = []
        for check in report.checks:
            if check.status == "fail":
                episode = self.store.mark_failing(check.name)
                if episode is None:
                    continue  # still failing since an earlier run: already alerted
                started.append(check.name)
                subject = f"[moodline] {check.name} failing for {report.model.name} {report.model.version}"
                explanation = "\n".join(check.explanation())
                body = (
                    f"The {check.name} check started failing: {check.message}\n\n"
                    + (f"{explanation}\n\n" if explanation else "")
                    + f"Full report:\n{report.text()}\n\nResults: {json.dumps(report.to_dict(), indent=2)}\n"
                )
                self.notify(f"check:{check.name}:{episode}", subject, body)
            elif check.status == "ok" and self.store.mark_passing(check.name):
                log.info("check %s recovered", check.name)
        return started

    def notify(self, key: str, subject: str, body: str) -> list[int]:
        """Queue one alert on every configured channel (idempotent per ``key``)."""
        channels = self.channels()
        if not channels:
            log.warning("alert not sent (no SMTP host/recipients or webhook configured): %s", subject)
            return []
        log.warning("alert: %s", subject)
        return self.store.enqueue_alert(key, channels, subject, body)

    def deliver_due(self) -> DeliveryStats:
        """Send every alert that is due; a failure is kept and retried after a backoff."""
        stats = DeliveryStats()
        now = self.clock()
        for alert in self.store.claim_due_alerts(now):
            try:
                if alert.channel == "email":
                    self.send_email(alert)
                elif alert.channel == "webhook":
                    self.send_webhook(alert)
                else:
                    raise ValueError(f"unknown alert channel {alert.channel!r}")
            except Exception as exc:  # noqa: BLE001 - any failure means: try again later
                delay = min(self.settings.alert_retry_base_s * 2**alert.attempts, self.settings.alert_retry_max_s)
                reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "alert %d (%s) not delivered (attempt %d): %s; retry in %.1fs",
                    alert.id,
                    alert.channel,
                    alert.attempts + 1,
                    reason,
                    delay,
                )
                self.store.alert_failed(alert.id, reason, self.clock() + delay)
                stats.failed += 1
            else:
                self.store.alert_sent(alert.id)
                stats.sent += 1
        return stats

    def send_email(self, alert: OutboxAlert) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = s.alert_email_from
        message["To"] = ", ".join(s.alert_email_to)
        message["X-Moodline-Alert"] = alert.dedupe_key
        message.set_content(alert.body)
        assert s.smtp_host is not None
        context = ssl.create_default_context(cafile=s.smtp_ca_file) if s.smtp_security != "none" else None
        client: smtplib.SMTP
        if s.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s, context=context)
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=context)
            if s.smtp_username:
                client.login(s.smtp_username, s.smtp_password or "")
            client.send_message(message)

    def send_webhook(self, alert: OutboxAlert) -> None:
        assert self.settings.alert_webhook_url is not None
        payload: dict[str, Any] = {
            "text": f"*{alert.subject}*\n{alert.body.split(chr(10) + chr(10) + 'Results:')[0]}",
            "moodline": {"key": alert.dedupe_key, "subject": alert.subject},
        }
        response = httpx.post(self.settings.alert_webhook_url, json=payload, timeout=self.settings.smtp_timeout_s)
        response.raise_for_status()
