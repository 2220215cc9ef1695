"""Who may see and change what, checked before every request (install() adds it to the app).

Each route needs a kind of access (access.accounts.NEEDS): open, read, predict,
contacts_read, contacts or admin. A request brings a bearer token (services) or a signed
session cookie (people, after POST /login); a session's state-changing request must carry
its CSRF token (Flask-WTF: the form's csrf_token field or an X-CSRF-Token header).
    no credentials     401 (a browser asking for a page is sent to /login instead)
    bad token          401: unknown, revoked or expired; right token, wrong scope: 403
    session            ends at sign-out (everywhere), after auth.session_hours, or when
                       the user is removed: a forged or replayed cookie is no session
While the store has no user, the server runs open to requests from loopback only; bound
to another address it refuses to start (access.binding). /health and /ping stay open;
/metrics also answers loopback. Secrets (passwords, tokens, cookies) are never logged.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from risk_assessment.core.common import AccessError

from flask import Flask, current_app, g, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from risk_assessment.access import accounts
from risk_assessment.access.binding import ADD_ADMIN, is_loopback
from risk_assessment.server.protocol import ApiError
from risk_assessment.server.serving import state
from risk_assessment.store import accounts as rows

log = logging.getLogger("app")
csrf = CSRFProtect()
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COOKIE = "risk_session"
# The kind of access each route needs; a route not listed needs "read".
NEEDS_BY_ENDPOINT = {
    "api.health": "open",
    "api.ping": "open",
    "auth.login": "open",
    "auth.login_post": "open",
    "auth.logout": "open",
    "api.prediction": "predict",
    "api.invocations": "predict",
    "admin.users_page": "admin",
    "admin.audit_page": "admin",
    "admin.calls_page": "admin",
}
CONTACTS = ("contacts.client_contacts", "contacts.record_contact", "contacts.contact_form")
LOOPBACK_OK = ("api.metrics_route",)  # answered to loopback without credentials


class Principal(NamedTuple):
    """Who makes the request: a user (role) in a session, a token (scopes), or nobody
    while the server runs open."""

    name: str
    via: str  # "session", "token" or "open"
    role: str | None = None
    scopes: tuple[str, ...] = ()


OPEN = Principal("anonymous", "open", role="admin")


def need_of(endpoint: str | None, method: str) -> str:
    """The kind of access a request to endpoint with method needs."""
    if endpoint in CONTACTS:
        return "contacts_read" if method in SAFE_METHODS else "contacts"
    return NEEDS_BY_ENDPOINT.get(endpoint or "", "read")


def unauthorized(message: str) -> ApiError:
    """A 401 in the API's error shape (MLflow's UNAUTHENTICATED)."""
    return ApiError(401, message, "UNAUTHENTICATED")


def token_principal(header: str, folder: Path) -> Principal:
    """The token holder of an Authorization header; 401 naming what is wrong."""
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise unauthorized("Authorization: give 'Bearer <token>'")
    digest = accounts.token_sha256(token.strip())
    row = rows.token_by_sha256(folder, digest)
    problem = accounts.token_problem(row, digest, datetime.now(UTC))
    if problem:
        raise unauthorized(f"{problem}; create one: python app.py tokens create")
    return Principal(f"token:{row['name']}", "token", scopes=tuple(row["scopes"].split(",")))


def session_principal(folder: Path, hours: float) -> Principal | None:
    """The signed-in user of this request's session cookie; None (and the session
    cleared) when it was ended, has expired, or names a user who is gone."""
    name = session.get("user")
    if not name:
        return None
    user = rows.get_user(folder, name)
    started = session.get("since", "")
    try:
        fresh = datetime.now(UTC) - datetime.fromisoformat(started) < timedelta(hours=hours)
    except (TypeError, ValueError):
        fresh = False
    if user is None or user["session_epoch"] != session.get("epoch") or not fresh:
        session.clear()
        return None
    return Principal(user["name"], "session", role=user["role"])


def identify() -> Principal | None:
    """Who makes this request (a token first, then the session); None: nobody yet."""
    folder = state().config["output_folder_path"]
    header = request.headers.get("Authorization")
    if header is not None:
        return token_principal(header, folder)
    return session_principal(folder, float(state().config["auth"]["session_hours"]))


def unauthenticated():
    """No credentials: a browser asking for a page goes to /login, others get 401."""
    wants = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if request.method == "GET" and wants == "text/html":  # a browser (curl sends */*)
        return redirect(f"/login?next={request.full_path.rstrip('?')}", code=303)
    if not rows.count_users(state().config["output_folder_path"]):
        raise unauthorized(f"no users yet: only loopback may connect; {ADD_ADMIN}")
    raise unauthorized("sign in at /login or send Authorization: Bearer <token>")


def refuse(who: Principal, need: str):
    """403 for a signed-in user or token without the access a route needs."""
    rule = accounts.NEEDS[need]
    wanted = f"role {' or '.join(rule.roles)}" if who.role else f"scope {' or '.join(rule.scopes)}"
    if who.role is None and not rule.scopes:
        wanted = "a signed-in admin (tokens cannot)"
    raise ApiError(403, f"{who.name}: {request.path} needs {wanted}", "PERMISSION_DENIED")


def guard():
    """Before each request: who is it, may they, and does a session's change carry CSRF."""
    need = need_of(request.endpoint, request.method)
    try:
        who = identify()
    except ApiError:
        if need != "open":
            raise
        who = None  # a bad token does not close /health
    if who is None and need != "open":
        if request.endpoint in LOOPBACK_OK and is_loopback(request.remote_addr):
            who = OPEN
        elif not rows.count_users(state().config["output_folder_path"]):
            who = OPEN if is_loopback(request.remote_addr) else None
        if who is None:
            return unauthenticated()
    g.principal = who
    if who is not None and need != "open":
        if not accounts.allows(need, who.role, who.scopes):
            refuse(who, need)
    if who is not None and request.method not in SAFE_METHODS and needs_csrf(who, need):
        csrf.protect()
    return None


def needs_csrf(who: Principal, need: str) -> bool:
    """A change made with a cookie, or a form posted while the server runs open: another
    site could make the browser send those. A token is no cookie; a JSON body from
    another site needs a CORS preflight this server never grants; predictions change
    nothing."""
    if who.via == "session":
        return True
    return who.via == "open" and need != "predict" and not request.is_json


def principal() -> Principal | None:
    """Who makes the current request (None before guard ran or on an open route)."""
    return g.get("principal")


def audit(action: str, target: str | None = None, actor: str | None = None, **more) -> None:
    """One audit row for the current request (its address included)."""
    who = actor or (principal().name if principal() else "anonymous")
    folder = current_app.extensions["risk_assessment"].config["output_folder_path"]
    rows.record(folder, who, action, target, address=request.remote_addr, **more)


def audit_client_view(response):
    """After a client's page or JSON was shown to someone signed in: an audit row."""
    who = principal()
    if who and who.via != "open" and response.status_code == 200:
        if request.endpoint in ("readers.client_page", "dashboard.risk_client"):
            audit("client_viewed", (request.view_args or {}).get("corporation"))
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="risk"'
    return response


def csrf_refused(exc: CSRFError):
    """A change without its CSRF token (or with a wrong one): 403 in the API's shape, like
    any other request its sender may not make."""
    message = f"CSRF: {exc.description} Send the page's csrf-token (csrf_token or X-CSRF-Token)"
    return jsonify(error_code="PERMISSION_DENIED", message=message, error=message), 403


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure when the request came over https
    (gunicorn sets the scheme from X-Forwarded-Proto for trusted proxies)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request) and request.is_secure


def session_key(path: Path) -> bytes:
    """The key that signs session cookies, shared by every worker: read from path, or
    made there (0600, 256 random bits) on first use."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(temp, path)  # whole or not at all; the first worker's key wins
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise AccessError(f"{path}: session key too short; delete it to make a new one")
    return key.encode()


def install(app: Flask, config: dict[str, Any]) -> None:
    """Add sessions, CSRF and the access checks to app."""
    hours = float(config["auth"]["session_hours"])
    app.config.update(
        SECRET_KEY=session_key(config["auth"]["session_key_path"]),
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # guard() checks sessions' changes, not tokens'
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session
    )
    app.session_interface = SessionCookies()
    csrf.init_app(app)
    app.jinja_env.globals.update(csrf_token=generate_csrf, principal=principal)
    app.register_error_handler(CSRFError, csrf_refused)
    app.before_request(guard)
    app.after_request(audit_client_view)
    if not rows.count_users(config["output_folder_path"]):
        log.warning("no users yet: open to loopback only, without sign-in; %s", ADD_ADMIN)
