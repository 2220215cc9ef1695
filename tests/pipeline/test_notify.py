"""Notifications: events of a run, a local webhook server and a local SMTP server."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from risk_assessment.core.common import ConfigError, ModelError
from risk_assessment.core.settings import load_config
from risk_assessment.pipeline import notify
from risk_assessment.pipeline import run as fullprocess
from tests.conftest import (
    configure,
    deploy_workspace,
    free_port,
    run_module,
    small_rows,
    write_csv,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = {"failed_ticks": 3, "stale_days": 7.0}

NOTIFY = "risk_assessment.pipeline.notify"


class Webhook:
    """A local HTTP server recording the JSON bodies POSTed to it (status: its answer)."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Mailbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# ---- which events --------------------------------------------------------------------------


def test_deployed_and_refused_runs_are_events_with_numbers():
    """A deployment and a refusal each give one line with versions and F1s."""
    deployed = {"decision": "deployed", "new_version": "v0002", "new_f1": 0.53,
                "deployed_version": "v0001", "deployed_f1": 0.49, "batch_f1": 0.31,
                "new_rows": 4000, "reason": "model drift"}  # fmt: skip
    (line,) = notify.run_events(deployed)
    assert line.startswith("deployed v0002: new F1 0.5300 (was v0001, F1 0.4900)")
    assert "4000 new rows, batch F1 0.3100" in line and "model drift" in line
    refused = {**deployed, "decision": "refused", "new_f1": 0.40}
    (line,) = notify.run_events(refused)
    assert "refused" in line and "0.4000" in line and "v0001 stays" in line
    assert notify.run_events({"decision": "no drift"}) == []


def test_error_run_and_consecutive_failures():
    """An error is an event every time; the streak is reported once, when it reaches N."""
    error = {"decision": "error", "error": "data.csv: missing column exited"}
    ok = {"decision": "none", "error": None}
    history = [error, error, error, ok]
    events = notify.events_for(error, history, SETTINGS, None, NOW)
    assert events[0] == "run ended in an error (error): data.csv: missing column exited"
    assert events[1].startswith("3 consecutive failed runs")
    assert len(notify.events_for(error, [error] * 4, SETTINGS, None, NOW)) == 1  # not again
    assert len(notify.events_for(error, [error, error, ok], SETTINGS, None, NOW)) == 1


def test_no_new_data_for_d_days_is_reported_once_per_period():
    """Stale data is an event on the tick that crosses 7 days (and 14), not on every tick."""
    last_new = iso(NOW - timedelta(days=7, minutes=5))
    before = {"started_at": iso(NOW - timedelta(minutes=10))}
    events = notify.events_for({"decision": "none"}, [{}, before], SETTINGS, last_new, NOW)
    assert events == [f"no new data for 7.0 days (since {last_new}; notify.stale_days 7)"]
    later = NOW + timedelta(minutes=10)
    assert notify.events_for({}, [{}, {"started_at": iso(NOW)}], SETTINGS, last_new, later) == []
    fresh = iso(NOW - timedelta(days=1))
    assert notify.events_for({}, [{}, before], SETTINGS, fresh, NOW) == []
    off = {**SETTINGS, "stale_days": 0}
    assert notify.events_for({}, [{}, before], off, last_new, NOW) == []


# ---- sending -------------------------------------------------------------------------------


def notify_config(workspace, **notify_settings) -> dict:
    """The workspace's config with notify settings (offline otherwise)."""
    return configure(workspace, notify=notify_settings)


def test_webhook_and_email_receive_the_deployment(workspace, webhook, smtp):
    """A first fullprocess run deploys v0001: one JSON `text` and one e-mail, same line."""
    port, mailbox = smtp
    config = notify_config(
        workspace,
        webhook_url=webhook.url,
        email_to="team@example.com",
        smtp_host="127.0.0.1",
        smtp_port=port,
        dashboard_url="http://risk.example/",
    )
    run = fullprocess.run_once(config)
    assert run.decision == "deployed"
    (body,) = webhook.bodies
    assert body["text"].startswith("[risk-assessment] deployed v0001: new F1")
    assert body["text"].endswith("| dashboard: http://risk.example/")
    (mail,) = mailbox.messages
    assert mail["To"] == "team@example.com"
    assert mail.get_payload(decode=True).decode().strip() == body["text"]


def test_a_failure_to_send_is_logged_and_never_fails_the_run(workspace, caplog):
    """Nothing listens at the webhook or the SMTP port: warnings, the run still deploys."""
    closed = free_port()
    config = notify_config(
        workspace,
        webhook_url=f"http://127.0.0.1:{closed}/hook",
        email_to="team@example.com",
        smtp_host="127.0.0.1",
        smtp_port=closed,
        timeout_seconds=2,
    )
    run = fullprocess.run_once(config)
    assert run.decision == "deployed" and run.error is None
    assert "notification not sent: webhook" in caplog.text
    assert "notification not sent: e-mail" in caplog.text


def test_webhook_answering_500_is_a_logged_failure(workspace, caplog):
    """A webhook answering 500 counts as not sent."""
    hook = Webhook(status=500)
    try:
        config = notify_config(workspace, webhook_url=hook.url)
        lines = notify.notify_run(config, {"decision": "error", "error": "boom"}, [])
    finally:
        hook.close()
    assert lines and "notification not sent: webhook: HTTPError" in caplog.text


def test_error_run_notifies(workspace, webhook):
    """A run that ends in an error (the deployed model fails verification) sends it."""
    config = notify_config(workspace, webhook_url=webhook.url)
    deploy_workspace(config)
    (config["prod_deployment_path"] / "versions" / "v0001" / "trainedmodel.skops").write_bytes(b"x")
    write_csv(config["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    with pytest.raises(ModelError):
        fullprocess.run_once(config)
    (body,) = webhook.bodies
    assert body["text"].startswith("[risk-assessment] run ended in an error (error): ")
    assert "refusing to load" in body["text"]


def test_off_by_default_sends_nothing(config):
    """Without a webhook or recipients nothing is attempted."""
    assert notify.enabled(config["notify"]) is False
    assert notify.notify_run(config, {"decision": "deployed"}, []) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"failed_ticks": -1}, "notify.failed_ticks = -1 is outside the allowed range"),
        ({"smtp_port": 70000}, "notify.smtp_port = 70000 is outside the allowed range"),
        ({"stale_days": -2}, "notify.stale_days"),
        ({"webhook_url": "ftp://x"}, "notify.webhook_url must start with http"),
    ],
)
def test_notify_settings_are_range_checked(workspace, settings, message):
    """Out-of-range notify settings are refused at load, naming the key."""
    path = workspace / "config.json"
    given = json.loads(path.read_text())
    path.write_text(json.dumps({**given, "notify": settings}))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_cli_test_sends_a_test_notification(workspace, webhook, smtp):
    """python -m risk_assessment.pipeline.notify --test sends on both channels and exits 0."""
    port, mailbox = smtp
    config = notify_config(
        workspace, webhook_url=webhook.url, email_to="a@example.com",
        smtp_host="127.0.0.1", smtp_port=port,
    )  # fmt: skip
    done = run_module(NOTIFY, "--test", "--config", str(config["config_file"]))
    assert done.returncode == 0, done.stderr
    assert "test notification" in webhook.bodies[0]["text"]
    assert "test notification" in mailbox.messages[0]["Subject"]


def test_cli_test_without_channels_says_so(workspace):
    """--test with notifications off: one line, exit 1."""
    done = run_module(NOTIFY, "--test", "--config", str(workspace / "config.json"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "notify.webhook_url and email_to are empty" in done.stderr
