"""The access-control and worklist part of the API's description (openapi.py): sign-in and
sign-out, a client's contacts, the admin pages, the two ways to authenticate (a bearer
token, the session cookie with its CSRF token) and the 401/403/429 answers."""

from __future__ import annotations

from typing import Any

from risk_assessment.access.worklist import MAX_NOTE, OUTCOMES
from risk_assessment.server.openapi_schemas import TEXT, closed, obj, ref

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
NULLABLE_TEXT = {"type": "string", "nullable": True}
DENIED = {
    "401": {"description": "no, unknown, revoked or expired credentials", "content": {}},
    "403": {"description": "a token without the scope, or a user without the role"},
}
LOGOUT = {"type": "object", "properties": {"csrf_token": TEXT}}
UNAUTHENTICATED = {  # any route but /health, /ping, /login once a user exists (auth.py)
    "description": "no, unknown, revoked or expired credentials (or, before the first user, "
    "a request from another address than loopback)",
    "content": {JSON: {"schema": ref("Error")}},
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "python app.py tokens create"},
    "session": {"type": "apiKey", "in": "cookie", "name": "risk_session"},
}


def error(description: str) -> dict[str, Any]:
    """An error answer in the API's Error shape."""
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


def redirect(description: str) -> dict[str, Any]:
    """A 303 to another page."""
    return {"description": description, "headers": {"Location": {"schema": TEXT}}}


def client_id() -> dict[str, Any]:
    """The client id in the path."""
    return {"name": "corporation", "in": "path", "required": True, "schema": TEXT}


def form(required: list[str], **fields: Any) -> dict[str, Any]:
    """A required form body with these fields."""
    return {"required": True, "content": {FORM: {"schema": obj(required, **fields)}}}


def signin_paths() -> dict[str, Any]:
    """GET/POST /login and POST /logout."""
    page = {"description": "the sign-in form", "content": {HTML: {"schema": TEXT}}}
    again = {"description": "the form again, saying why", "content": {HTML: {"schema": TEXT}}}
    fields = {"username": TEXT, "password": TEXT, "csrf_token": TEXT, "next": TEXT}
    return {
        "/login": {
            "get": {"summary": "the sign-in form", "responses": {"200": page}},
            "post": {
                "summary": "sign in: a session cookie, then back to `next`",
                "requestBody": form(["username", "password", "csrf_token"], **fields),
                "responses": {
                    "303": redirect("signed in"),
                    "403": error("the CSRF token is missing or wrong"),
                    "401": again,
                    "429": {**again, "description": "too many failed sign-ins in a row"},
                },
            },
        },
        "/logout": {
            "post": {
                "summary": "sign out: ends every session of the user",
                "requestBody": {"content": {FORM: {"schema": LOGOUT}}},
                "responses": {"303": redirect("to /login"), "403": error("CSRF token missing")},
            }
        },
    }


def contact_paths() -> dict[str, Any]:
    """GET/POST /risk/{corporation}/contacts and the client page's form."""
    refused = {"400": error("bad outcome or note"), **DENIED}
    refused["403"] = error("no CSRF token (a session), or no role or scope for it")
    refused["404"] = error("not a known client")
    return {
        "/risk/{corporation}/contacts": {
            "get": {
                "summary": "a client's contacts, newest first",
                "parameters": [client_id()],
                "responses": {"200": ok("ContactList"), "404": refused["404"], **DENIED},
            },
            "post": {
                "summary": "record a contact (manager, or token scope contacts)",
                "parameters": [client_id()],
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("NewContact")}}},
                "responses": {"201": ok("Contact"), **refused},
            },
        },
        "/client/{corporation}/contacts": {
            "post": {
                "summary": "record a contact from the client page's form",
                "parameters": [client_id()],
                "requestBody": form(
                    ["outcome", "csrf_token"], outcome=TEXT, note=TEXT, csrf_token=TEXT
                ),
                "responses": {"303": redirect("back to the client page"), **refused},
            }
        },
    }


def ok(schema: str) -> dict[str, Any]:
    """A JSON answer of schema."""
    return {"description": schema, "content": {JSON: {"schema": ref(schema)}}}


def admin_paths() -> dict[str, Any]:
    """The admins' pages."""
    page = {
        "description": "HTML page (or JSON with format=json)",
        "content": {HTML: {"schema": TEXT}, JSON: {"schema": ref("Audit")}},
    }
    calls = {
        "description": "HTML page (or JSON with format=json)",
        "content": {HTML: {"schema": TEXT}, JSON: {"schema": {"type": "object"}}},
    }
    fmt = {"name": "format", "in": "query", "schema": TEXT, "description": "json: the rows"}
    return {
        "/admin/users": {
            "get": {
                "summary": "users and tokens (admin)",
                "responses": {
                    "200": {"description": "HTML page", "content": {HTML: {"schema": TEXT}}},
                    **DENIED,
                },
            }
        },
        "/admin/calls": {
            "get": {
                "summary": "did the calls help? (admin)",
                "parameters": [fmt],
                "responses": {"200": calls, **DENIED, "503": error("no model deployed")},
            }
        },
        "/admin/audit": {
            "get": {
                "summary": "the audit trail (admin)",
                "parameters": [fmt],
                "responses": {"200": page, **DENIED},
            }
        },
    }


def access_paths() -> dict[str, Any]:
    """Every path of access control and the worklist."""
    return {**signin_paths(), **contact_paths(), **admin_paths()}


def access_schemas() -> dict[str, Any]:
    """Contacts and the audit trail."""
    contact = obj(
        ["id", "corporation", "at", "actor", "outcome", "note"],
        id={"type": "integer"},
        corporation=TEXT,
        at=TEXT,
        actor=TEXT,
        outcome={"type": "string", "enum": list(OUTCOMES)},
        note=TEXT,
    )
    row = {k: NULLABLE_TEXT for k in ("target", "address", "detail")}
    audit_row = obj(
        ["id", "at", "actor", "action"],
        id={"type": "integer"},
        at=TEXT,
        actor=TEXT,
        action=TEXT,
        **row,
    )
    return {
        "Contact": contact,
        "ContactList": obj(
            ["corporation", "contacts"],
            corporation=TEXT,
            contacts={"type": "array", "items": contact},
        ),
        "NewContact": closed(
            ["outcome"],
            outcome={"type": "string", "enum": list(OUTCOMES)},
            note={"type": "string", "maxLength": MAX_NOTE},
        ),
        "Audit": obj(
            ["rows", "audit"], rows={"type": "integer"}, audit={"type": "array", "items": audit_row}
        ),
    }
