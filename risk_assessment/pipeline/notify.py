"""Notifications: someone hears when the unattended job deploys, refuses, fails or starves.

Reads   config.json's `notify` section (off by default), the run just made and the history
Sends   one line per event to a webhook (JSON POST with a Slack-compatible `text`) and/or
        by e-mail (smtplib); a failure to send is logged and never fails the run
Run     python notify.py --test [--config config.json]   sends a test notification

fullprocess.py calls notify_run() once at the end of every run. Events: a deployment, a
refused model, a run ending in an error, notify.failed_ticks consecutive failed runs,
and notify.stale_days without new data (again every stale_days). Standard library only:
the cron tick that finds nothing new stays light.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from risk_assessment.core.common import RiskError, cli_parser, now_iso, run_cli

from risk_assessment.core.settings import load_config
from risk_assessment.store import records as store

log = logging.getLogger("notify")

PREFIX = "[risk-assessment]"
PASSWORD_ENV = "RISK_SMTP_PASSWORD"


def enabled(settings: dict[str, Any]) -> bool:
    """Whether any channel is configured."""
    return bool(settings["webhook_url"] or settings["email_to"])


def num(value: Any) -> str:
    """A number to 4 decimals, or n/a."""
    return "n/a" if value is None else f"{value:.4f}"


def failed(row: dict[str, Any]) -> bool:
    """Whether a history row is a failed run."""
    return row.get("decision") == "error" or bool(row.get("error"))


def failed_streak(history: list[dict[str, Any]]) -> int:
    """How many of the newest runs (history is newest first) failed in a row."""
    count = 0
    for row in history:
        if not failed(row):
            break
        count += 1
    return count


def stale_event(
    last_new: str | None, now: datetime, previous_run: str | None, days: float
) -> str | None:
    """A message when the time since new data last arrived crossed a multiple of days
    between the previous run and this one (so it is sent once per period), else None."""
    if not days or not last_new:
        return None
    period, since = timedelta(days=days), datetime.fromisoformat(last_new)
    now_periods = (now - since) // period
    before = (datetime.fromisoformat(previous_run) - since) // period if previous_run else 0
    if now_periods < 1 or now_periods <= before:
        return None
    age = (now - since).total_seconds() / 86400
    return f"no new data for {age:.1f} days (since {last_new}; notify.stale_days {days:g})"


def run_events(run: dict[str, Any]) -> list[str]:
    """One line per event of the run itself: deployed, refused, error."""
    events = []
    if run.get("decision") == "deployed":
        events.append(
            f"deployed {run.get('new_version')}: new F1 {num(run.get('new_f1'))} "
            f"(was {run.get('deployed_version') or 'none'}, F1 {num(run.get('deployed_f1'))}); "
            f"{run.get('new_rows', 0)} new rows"
            + (f", batch F1 {num(run['batch_f1'])}" if run.get("batch_f1") is not None else "")
            + f"; {run.get('reason', '')}"
        )
    if run.get("decision") == "refused":
        events.append(
            f"refused the retrained model: new F1 {num(run.get('new_f1'))}, live "
            f"{run.get('deployed_version')} stays (F1 {num(run.get('deployed_f1'))}); "
            f"{run.get('reason', '')}"
        )
    if failed(run):
        events.append(f"run ended in an error ({run.get('decision')}): {run.get('error')}")
    return events


def events_for(
    run: dict[str, Any],
    history: list[dict[str, Any]],
    settings: dict[str, Any],
    last_new_data: str | None,
    now: datetime,
) -> list[str]:
    """Every message this run calls for. history: newest first, this run included."""
    events = run_events(run)
    streak, limit = failed_streak(history), int(settings["failed_ticks"])
    if limit and streak == limit:  # once, when the streak reaches the limit
        events.append(f"{streak} consecutive failed runs; last error: {run.get('error')}")
    previous = history[1].get("started_at") if len(history) > 1 else None
    stale = stale_event(last_new_data, now, previous, settings["stale_days"])
    if stale:
        events.append(stale)
    return events


def dashboard_url(config: dict[str, Any]) -> str:
    """The dashboard's address named in each message."""
    return config["notify"]["dashboard_url"] or config["api"]["base_url"].rstrip("/") + "/"


def send_webhook(url: str, text: str, timeout: float) -> None:
    """POST {"text": text} as JSON (Slack, Mattermost, Teams workflows, a custom hook)."""
    import urllib.request

    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        reply.read()


def send_email(settings: dict[str, Any], text: str) -> None:
    """Send text as an e-mail (subject: its first 120 characters) through smtplib."""
    import smtplib
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = text[:120]
    message["From"] = settings["email_from"]
    message["To"] = settings["email_to"]
    message.set_content(text + "\n")
    host, port = settings["smtp_host"], int(settings["smtp_port"])
    with smtplib.SMTP(host, port, timeout=settings["timeout_seconds"]) as smtp:
        if settings["smtp_starttls"]:
            smtp.starttls()
        if settings["smtp_user"]:
            smtp.login(settings["smtp_user"], os.environ.get(PASSWORD_ENV, ""))
        smtp.send_message(message)


def send(settings: dict[str, Any], text: str) -> list[str]:
    """Send text on every configured channel; returns the failures as lines (never raises).

    The mail and HTTP libraries are imported here: the idle cron tick never needs them."""
    import smtplib
    import urllib.error

    failures, timeout = [], settings["timeout_seconds"]
    channels = []
    if settings["webhook_url"]:
        channels.append(("webhook", lambda: send_webhook(settings["webhook_url"], text, timeout)))
    if settings["email_to"]:
        channels.append(("e-mail", lambda: send_email(settings, text)))
    for name, deliver in channels:
        try:
            deliver()
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    return failures


def notify_run(
    config: dict[str, Any], run: dict[str, Any], history: list[dict[str, Any]]
) -> list[str]:
    """Send the run's events (see events_for); returns the lines sent. Never raises:
    a notification that cannot be sent is a warning in the log, not a failed run."""
    settings = config["notify"]
    if not enabled(settings):
        return []
    try:
        runs = store.load_record(config["output_folder_path"]).get("runs", [])
        last_new = runs[-1]["time"] if runs else (history[-1]["started_at"] if history else None)
        now = datetime.fromisoformat(now_iso())
        lines = [
            f"{PREFIX} {text} | dashboard: {dashboard_url(config)}"
            for text in events_for(run, history, settings, last_new, now)
        ]
    except (RiskError, OSError, KeyError, ValueError) as exc:
        log.warning("notifications skipped: %s", exc)
        return []
    for line in lines:
        for failure in send(settings, line):
            log.warning("notification not sent: %s", failure)
        log.info("notified: %s", line)
    return lines


def main() -> int:
    """--test: send one test notification on every configured channel."""
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="send a test notification")
    args = parser.parse_args()
    config = load_config(args.config)
    settings = config["notify"]
    if not args.test:
        parser.print_help()
        return 0
    if not enabled(settings):
        raise RiskError(f"{config['config_file']}: notify.webhook_url and email_to are empty")
    text = (
        f"{PREFIX} test notification from {config['config_file'].parent} at {now_iso()} "
        f"| dashboard: {dashboard_url(config)}"
    )
    failures = send(settings, text)
    for failure in failures:
        log.error("not sent: %s", failure)
    if not failures:
        log.info("sent: %s", text)
    return 1 if failures else 0


if __name__ == "__main__":
    run_cli(main, "notify")
