"""Access control through the real app: open while no user exists (loopback only), then
sign-in or a token everywhere; roles, scopes, CSRF, forged and replayed cookies, the
sign-in rate limit, secrets kept out of logs and errors, the refusal to bind wide open."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface

from risk_assessment.access.binding import refuse_open_bind
from risk_assessment.core.common import AccessError
from risk_assessment.server.app import create_app
from risk_assessment.server.auth import COOKIE
from risk_assessment.store import accounts as rows
from tests.conftest import add_token, add_user, page_csrf, shared_deployment, sign_in

ELSEWHERE = {"REMOTE_ADDR": "10.1.2.3"}  # a request from another machine


def assert_error(answer, status: int, code: str) -> dict:
    """A JSON error of the project's shape with status and code; returns the body."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["error_code"] == code and body["message"] == body["error"]
    return body


def test_without_users_loopback_is_open_and_elsewhere_is_refused(deployed, caplog):
    """No user: one warning line; loopback reads and predicts; another address gets 401
    naming the command that creates an admin."""
    with caplog.at_level(logging.WARNING, "app"):
        client = create_app(deployed).test_client()
    assert "no users yet" in caplog.text and "users add" in caplog.text
    assert client.get("/risk").status_code == 200
    assert client.post("/prediction", json={"filepath": "testdata/testdata.csv"}).status_code == 200
    body = assert_error(client.get("/risk", environ_base=ELSEWHERE), 401, "UNAUTHENTICATED")
    assert "users add NAME --role admin" in body["message"]


@pytest.fixture(scope="module")
def one_viewer(tmp_path_factory) -> dict:
    """A deployment with one user, a viewer: built once for the routes checked below."""
    config = shared_deployment(tmp_path_factory)
    add_user(config, "ann", "viewer")
    return config


@pytest.mark.parametrize("path", ["/risk", "/scoring", "/summarystats", "/version", "/runs"])
def test_once_a_user_exists_every_route_needs_credentials(one_viewer, path):
    """A user exists: 401 JSON with WWW-Authenticate, even from loopback."""
    answer = create_app(one_viewer).test_client().get(path)
    assert_error(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_is_sent_to_the_sign_in_form_and_back(deployed):
    """GET / as a browser: 303 to /login?next=/; signing in returns there."""
    password = add_user(deployed, "ann", "viewer")
    client = create_app(deployed).test_client()
    answer = client.get("/client/c001", headers={"Accept": "text/html"})
    assert answer.status_code == 303 and answer.location == "/login?next=/client/c001"
    page = client.get("/login?next=/client/c001").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="next" value="/client/c001"' in page
    token = page_csrf(client)
    form = {"username": "ann", "password": password, "csrf_token": token, "next": "/client/c001"}
    assert client.post("/login", data=form).location == "/client/c001"
    assert client.get("/client/c001").status_code == 200
    other = create_app(deployed).test_client()
    form = {**form, "csrf_token": page_csrf(other), "next": "//evil.example/"}
    assert other.post("/login", data=form).location == "/"


def test_health_stays_open_and_metrics_needs_read_or_loopback(deployed):
    """/health answers anyone; /metrics answers loopback, or elsewhere a read token."""
    add_user(deployed, "ann", "admin")
    read, predict = add_token(deployed, "r", "read"), add_token(deployed, "p", "predict")
    client = create_app(deployed).test_client()
    assert client.get("/health", environ_base=ELSEWHERE).status_code == 200
    assert client.get("/metrics").status_code == 200
    assert_error(client.get("/metrics", environ_base=ELSEWHERE), 401, "UNAUTHENTICATED")
    bearer = {"Authorization": f"Bearer {read}"}
    assert client.get("/metrics", environ_base=ELSEWHERE, headers=bearer).status_code == 200
    bearer = {"Authorization": f"Bearer {predict}"}
    answer = client.get("/metrics", environ_base=ELSEWHERE, headers=bearer)
    assert_error(answer, 403, "PERMISSION_DENIED")


def test_tokens_by_scope_wrong_scope_403_revoked_expired_unknown_401(deployed):
    """predict scores, cannot read the list (403); revoked, expired, unknown: 401."""
    add_user(deployed, "ann", "admin")
    predict = add_token(deployed, "p", "predict")
    old = add_token(deployed, "old", "read", days=1e-9)
    gone = add_token(deployed, "gone", "read")
    rows.revoke_token(deployed["output_folder_path"], "gone")
    client = create_app(deployed).test_client()

    def call(token, path="/risk", **kw):
        return client.get(path, headers={"Authorization": f"Bearer {token}"}, **kw)

    body = {"filepath": "testdata/testdata.csv"}
    auth = {"Authorization": f"Bearer {predict}"}
    assert client.post("/prediction", json=body, headers=auth).status_code == 200
    assert_error(call(predict), 403, "PERMISSION_DENIED")
    assert "revoked" in assert_error(call(gone), 401, "UNAUTHENTICATED")["message"]
    assert "expired" in assert_error(call(old), 401, "UNAUTHENTICATED")["message"]
    assert_error(call(predict + "x"), 401, "UNAUTHENTICATED")
    assert_error(
        client.get("/risk", headers={"Authorization": "Basic YTpi"}), 401, "UNAUTHENTICATED"
    )
    assert_error(call(add_token(deployed, "r", "read"), "/admin/audit"), 403, "PERMISSION_DENIED")


def test_wrong_password_and_unknown_user_get_the_same_answer(deployed):
    """Both: 401 with the same page text, no session; the audit trail has both tries."""
    add_user(deployed, "ann", "viewer")
    client = create_app(deployed).test_client()
    wrong, unknown = sign_in(client, "ann", "nope-nope"), sign_in(client, "zed", "nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("Wrong") == unknown.get_data(as_text=True).count(
        "Wrong"
    )
    assert_error(client.get("/risk"), 401, "UNAUTHENTICATED")
    actions = [(r["action"], r["target"]) for r in rows.audit_rows(deployed["output_folder_path"])]
    assert actions[:2] == [("signin_failed", "zed"), ("signin_failed", "ann")]


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(deployed):
    """Set-Cookie: HttpOnly, SameSite=Lax; Secure only when the request came over https."""
    password = add_user(deployed, "ann", "viewer")
    plain = sign_in(create_app(deployed).test_client(), "ann", password)
    cookie = plain.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    tls = create_app(deployed).test_client()
    page = tls.get("/login", base_url="https://risk.example").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = {"username": "ann", "password": password, "csrf_token": token}
    answer = tls.post("/login", data=form, base_url="https://risk.example",
                      headers={"Referer": "https://risk.example/login"})  # fmt: skip
    assert answer.status_code == 303 and "Secure" in answer.headers["Set-Cookie"]


def test_a_forged_cookie_is_no_session(deployed):
    """A cookie signed with another key, or naming an admin it was not given to: 401."""
    add_user(deployed, "ann", "admin")
    app = create_app(deployed)
    other = create_app(deployed)
    other.secret_key = "someone-else's-key-" * 3
    forged = SecureCookieSessionInterface().get_signing_serializer(other)
    client = app.test_client()
    client.set_cookie(COOKIE, forged.dumps({"user": "ann", "epoch": 0, "since": "2099-01-01"}))
    assert_error(client.get("/risk"), 401, "UNAUTHENTICATED")
    client.set_cookie(COOKIE, "not-even-base64!!")
    assert_error(client.get("/risk"), 401, "UNAUTHENTICATED")


def test_a_session_older_than_session_hours_is_over(deployed):
    """A cookie signed with the right key but started 13 hours ago (limit 12): 401; one
    started now works (the same user and epoch)."""
    add_user(deployed, "ann", "admin")
    app = create_app(deployed)
    signer = SecureCookieSessionInterface().get_signing_serializer(app)
    old = (datetime.now(UTC) - timedelta(hours=13)).isoformat(timespec="seconds")
    client = app.test_client()
    client.set_cookie(COOKIE, signer.dumps({"user": "ann", "epoch": 0, "since": old}))
    assert_error(client.get("/risk"), 401, "UNAUTHENTICATED")
    fresh = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_cookie(COOKIE, signer.dumps({"user": "ann", "epoch": 0, "since": fresh}))
    assert client.get("/risk").status_code == 200


def test_a_replayed_cookie_after_sign_out_is_no_session(deployed):
    """The cookie copied before sign-out stops working once the user signs out."""
    password = add_user(deployed, "ann", "viewer")
    client = create_app(deployed).test_client()
    sign_in(client, "ann", password)
    stolen = client.get_cookie(COOKIE).value
    assert client.get("/risk").status_code == 200
    answer = client.post("/logout", data={"csrf_token": page_csrf(client, "/")})
    assert answer.status_code == 303 and answer.location == "/login"
    thief = create_app(deployed).test_client()
    thief.set_cookie(COOKIE, stolen)
    assert_error(thief.get("/risk"), 401, "UNAUTHENTICATED")
    actions = [r["action"] for r in rows.audit_rows(deployed["output_folder_path"])]
    assert actions[:2] == ["signout", "signin"]


def test_a_session_change_without_its_csrf_token_is_refused(deployed):
    """POST /login and POST /logout without csrf_token: 403, nobody signed in or out."""
    password = add_user(deployed, "ann", "viewer")
    client = create_app(deployed).test_client()
    client.get("/login")
    answer = client.post("/login", data={"username": "ann", "password": password})
    assert_error(answer, 403, "PERMISSION_DENIED")
    assert "CSRF" in answer.get_json()["message"]
    sign_in(client, "ann", password)
    assert_error(client.post("/logout"), 403, "PERMISSION_DENIED")
    wrong = client.post("/logout", data={"csrf_token": "forged"})
    assert_error(wrong, 403, "PERMISSION_DENIED")
    assert client.get("/risk").status_code == 200


def test_roles_decide_the_admin_pages(deployed):
    """A viewer gets 403 on /admin/*; an admin sees users, tokens and the audit trail."""
    viewer, admin = add_user(deployed, "vic", "viewer"), add_user(deployed, "ada", "admin")
    add_token(deployed, "svc", "read")
    client = create_app(deployed).test_client()
    sign_in(client, "vic", viewer)
    assert_error(client.get("/admin/users"), 403, "PERMISSION_DENIED")
    client.post("/logout", data={"csrf_token": page_csrf(client, "/")})
    sign_in(client, "ada", admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "vic" in page and "svc" in page and "$argon2" not in page
    audit = client.get("/admin/audit?format=json").get_json()["audit"]
    assert [a["action"] for a in audit][:3] == ["signin", "signout", "signin"]


def test_the_21st_sign_in_in_a_row_is_refused_and_logged(deployed, caplog):
    """20 wrong passwords, then even the right one gets 429 with Retry-After; the log
    says so and holds no password."""
    password = add_user(deployed, "ann", "viewer")
    client = create_app(deployed).test_client()
    with caplog.at_level(logging.INFO, "app"):
        for i in range(20):
            assert sign_in(client, "ann", f"guess-{i:04d}").status_code == 401
        refused = sign_in(client, "ann", password)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "20 failed attempts in a row" in caplog.text
    assert password not in caplog.text and "guess-0007" not in caplog.text
    assert_error(client.get("/risk"), 401, "UNAUTHENTICATED")
    same_address = create_app(deployed).test_client()  # another name, the same address
    assert sign_in(same_address, "bob", "whatever-1").status_code == 429


def test_no_secret_reaches_a_log_or_an_error(deployed, caplog):
    """Passwords, tokens and cookies appear in no log line and no answer."""
    password = add_user(deployed, "ann", "viewer")
    token = add_token(deployed, "svc", "predict")
    client = create_app(deployed).test_client()
    with caplog.at_level(logging.DEBUG):
        sign_in(client, "ann", password)
        cookie = client.get_cookie(COOKIE).value
        answers = [client.get("/risk", headers={"Authorization": f"Bearer {token}"})]
        answers.append(client.get("/risk", headers={"Authorization": f"Bearer {token}x"}))
        answers.append(sign_in(client, "ann", password + "x"))
    text = caplog.text + "".join(a.get_data(as_text=True) for a in answers)
    assert password not in text and token not in text and cookie not in text


def test_a_wide_bind_without_an_admin_is_refused(deployed):
    """0.0.0.0 without an admin: AccessError naming the command; 127.0.0.1 is fine; a
    manager alone is not enough; an admin is."""
    refuse_open_bind(deployed, ["127.0.0.1", "::1", "localhost"])
    with pytest.raises(AccessError, match="users add NAME --role admin"):
        refuse_open_bind(deployed, ["0.0.0.0"])
    add_user(deployed, "max", "manager")
    with pytest.raises(AccessError, match="0.0.0.0"):
        refuse_open_bind(deployed, ["0.0.0.0"])
    add_user(deployed, "ada", "admin")
    refuse_open_bind(deployed, ["0.0.0.0", "192.168.1.9"])


def test_the_session_key_is_made_once_private_and_shared(deployed):
    """session.key: 0600, 64 hex characters, the same for every app of the config."""
    first = create_app(deployed).secret_key
    path = deployed["auth"]["session_key_path"]
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text()) == 64
    assert create_app(deployed).secret_key == first
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
