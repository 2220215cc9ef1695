"""Signing in and out: GET /login (the form), POST /login, POST /logout.

POST /login takes the form fields username, password and csrf_token. After
auth.max_failed_signins failures in a row for one user name or from one address (within
auth.failed_signin_minutes), further attempts are refused with 429 until the window has
passed, even with the right password; each failure and refusal is an audit row and a log
line (the name tried and the address, never the password). A successful sign-in starts a
new session (the old cookie's contents are dropped); sign-out ends every session of the
user, so a copied cookie stops working too.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, redirect, render_template, request, session

from risk_assessment.access import accounts
from risk_assessment.server import auth
from risk_assessment.server.serving import state
from risk_assessment.store import accounts as rows

log = logging.getLogger("app")
bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //host or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_form(status: int = 200, error: str | None = None, **more: Any):
    """The sign-in page (with the form's CSRF token), answered with status."""
    page = render_template(
        "login.html", error=error, next=safe_next(request.values.get("next")), **more
    )
    return page, status


def locked_out(name: str, address: str) -> int:
    """Failures in a row for name or address within the window (0 when below the limit)."""
    settings = state().config["auth"]
    since = datetime.now(UTC) - timedelta(minutes=float(settings["failed_signin_minutes"]))
    folder, stamp = state().config["output_folder_path"], since.isoformat(timespec="seconds")
    most = max(
        rows.failures_in_row(folder, "target", name, stamp),
        rows.failures_in_row(folder, "address", address, stamp),
    )
    return most if most >= int(settings["max_failed_signins"]) else 0


@bp.get("/login")
def login():
    """The sign-in form."""
    return login_form()


@bp.post("/login")
def login_post():
    """Check the name and password; start a session or say what went wrong."""
    auth.csrf.protect()
    name = request.form.get("username", "")[:64]
    password = request.form.get("password", "")
    address = request.remote_addr or "-"
    failures = locked_out(name, address)
    if failures:
        auth.audit("signin_refused", name, actor=name or "-", detail=f"{failures} failures")
        log.warning(
            "sign-in refused for user %r from %s: %d failed attempts in a row",
            name, address, failures,
        )  # fmt: skip
        minutes = int(state().config["auth"]["failed_signin_minutes"])
        page, status = login_form(429, f"Too many failed attempts: try again in {minutes} min.")
        return page, status, {"Retry-After": str(minutes * 60)}
    user = rows.get_user(state().config["output_folder_path"], name) if name else None
    if not accounts.verify_password(user["password_hash"] if user else None, password):
        auth.audit("signin_failed", name, actor=name or "-")
        log.warning("sign-in failed for user %r from %s", name, address)
        return login_form(401, "Wrong user name or password.")
    return start_session(user, address)


def start_session(user: dict[str, Any], address: str):
    """A fresh session for user (a new CSRF token too); back to where they were going."""
    folder = state().config["output_folder_path"]
    password = request.form.get("password", "")
    if accounts.needs_rehash(user["password_hash"]):
        rows.set_password_hash(folder, user["name"], accounts.hash_password(password))
    session.clear()
    session.permanent = True
    since = datetime.now(UTC).isoformat(timespec="seconds")
    session.update(user=user["name"], epoch=user["session_epoch"], since=since)
    auth.audit("signin", user["name"], actor=user["name"])
    log.info("user %s signed in from %s", user["name"], address)
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    """End the user's sessions (every device) and go back to the sign-in form."""
    who = auth.principal()
    if who is not None and who.via == "session":
        rows.end_sessions(state().config["output_folder_path"], who.name)
        auth.audit("signout", who.name)
    elif session.get("user"):
        auth.csrf.protect()  # a stale session still needs its token to sign out
    session.clear()
    return redirect("/login", code=303)
