"""The worklist: contacts a client manager records, and the call list's rule.

Routes  GET  /risk/<id>/contacts    a client's contacts, newest first (JSON)
        POST /risk/<id>/contacts    {"outcome": ..., "note": ...} -> 201 with the contact
                                    (a manager's session with X-CSRF-Token, or a token
                                    with scope contacts)
        POST /client/<id>/contacts  the same from the client page's form (then back to it)
Contacts are rows of the store (the one system of record), so a redeploy never loses
them. A note is stored as the text it is and shown escaped (Jinja's autoescape).
`open_call_list` is what the call list (GET /calls) applies to its clients, and
`listed_summary` says how many of them were contacted in the period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, redirect, request

from risk_assessment.access import worklist
from risk_assessment.server import auth, dashboard
from risk_assessment.server.protocol import ApiError, invalid, parse_json
from risk_assessment.server.serving import state
from risk_assessment.store import accounts as rows

bp = Blueprint("contacts", __name__)


def known_client(corporation: str) -> str:
    """The client id when the store has observations of it; 404 otherwise."""
    if dashboard.client_observations(state(), corporation).empty:
        raise ApiError(
            404, f"corporation {corporation[:100]!r}: not a known client", "RESOURCE_DOES_NOT_EXIST"
        )
    return corporation


def save_contact(corporation: str, body: Any) -> dict[str, Any]:
    """Check a contact and store it (as who makes the request); 400 naming what is wrong."""
    problem = worklist.contact_problem(body)
    if problem:
        raise invalid(problem)
    who = auth.principal()
    actor = who.name if who else "anonymous"
    folder = state().config["output_folder_path"]
    return rows.add_contact(folder, corporation, actor, body["outcome"], body.get("note", ""))


def contacts_for(corporation: str) -> list[dict[str, Any]]:
    """A client's contacts, newest first (for the client page)."""
    return rows.contacts_of(state().config["output_folder_path"], corporation)


def open_call_list(ids: list[str], owner: str | None = None) -> list[dict[str, Any]]:
    """The call list's clients still to call, each with its owner (access.worklist's
    rule, with risk.recontact_days); only owner's calls and unowned ones when given."""
    config = state().config
    latest = rows.latest_contacts(config["output_folder_path"])
    calls = worklist.open_calls(ids, latest, float(config["risk"]["recontact_days"]))
    return worklist.owned_by(calls, owner) if owner else calls


def listed_summary(ids: list[str], days: float | None = None) -> dict[str, Any]:
    """How many of the listed clients were contacted in the last days (default
    risk.recontact_days), and their latest outcomes: for the dashboard and the PDF."""
    config = state().config
    days = float(config["risk"]["recontact_days"] if days is None else days)
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    contacts = rows.contacts_between(config["output_folder_path"])
    return {**worklist.contacted_summary(ids, contacts, since), "days": days}


@bp.get("/risk/<client:corporation>/contacts")
def client_contacts(corporation: str):
    """A client's contacts as JSON."""
    known_client(corporation)
    return {"corporation": corporation, "contacts": contacts_for(corporation)}


@bp.post("/risk/<client:corporation>/contacts")
def record_contact(corporation: str):
    """Record a contact from a JSON body: 201 with the stored contact."""
    known_client(corporation)
    return save_contact(corporation, parse_json(request.get_data(cache=False))), 201


@bp.post("/client/<client:corporation>/contacts")
def contact_form(corporation: str):
    """Record a contact from the client page's form, then show the page again."""
    known_client(corporation)
    body = {"outcome": request.form.get("outcome"), "note": request.form.get("note", "")}
    save_contact(corporation, body)
    return redirect(f"/client/{quote(corporation, safe='')}#contacts", code=303)


bp.add_app_template_global(contacts_for)
bp.add_app_template_global(worklist.OUTCOMES, "outcomes")
bp.add_app_template_global(worklist.MAX_NOTE, "max_note")
