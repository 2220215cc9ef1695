"""The admins' pages: who may sign in and which tokens exist (GET /admin/users), the
audit trail (GET /admin/audit) and "did the calls help?" (GET /admin/calls); ?format=json
gives the last two as JSON. Read-only: users and
tokens are managed with `python app.py users|tokens` on the server (README).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from risk_assessment.reports.outcomes import stored_comparison
from risk_assessment.server.serving import state
from risk_assessment.store import accounts as rows

bp = Blueprint("admin", __name__)
AUDIT_ROWS = 500  # newest rows shown


@bp.get("/admin/users")
def users_page():
    """Users with their roles, and tokens with their scopes (never a secret or hash)."""
    folder = state().config["output_folder_path"]
    return render_template(
        "admin.html", users=rows.list_users(folder), tokens=rows.list_tokens(folder)
    )


@bp.get("/admin/audit")
def audit_page():
    """The newest audit rows: who signed in, viewed a client, recorded a contact, ..."""
    found = rows.audit_rows(state().config["output_folder_path"], AUDIT_ROWS)
    if request.args.get("format") == "json":
        return {"rows": len(found), "audit": found}
    return render_template("admin.html", audit=found)


@bp.get("/admin/calls")
def calls_page():
    """Contacted clients' exit rate against uncontacted ones of the same predicted risk."""
    model, _ = state().models.get()
    found = stored_comparison(state().config["output_folder_path"], model, state().config["schema"])
    if request.args.get("format") == "json":
        return found
    return render_template("admin.html", calls=found)
