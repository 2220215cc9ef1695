"""What each reader needs first: this week's calls for the client managers (/calls) and the
data scientist's page (/model). A Blueprint app.create_app adds beside the dashboard's.

Routes  /calls          this week's calls as JSON (?format=csv: a spreadsheet-safe CSV)
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from risk_assessment.reports import calls, plain
from risk_assessment.server.dashboard import week
from risk_assessment.server.serving import state

bp = Blueprint("readers", __name__)
bp.add_app_template_global(plain.quality_words, "quality_words")


@bp.get("/calls")
def calls_endpoint():
    """The risk.calls_per_week current clients to call this week, highest risk first."""
    api = state()
    _, manifest = api.models.get()
    facts = week(api)
    if request.args.get("format") == "csv":
        return Response(
            calls.calls_csv(facts["calls"]),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
        )
    return {
        "model_version": manifest["version"],
        "calls_per_week": facts["per_week"],
        "ordered_by": facts["ordered_by"],
        "current_clients": facts["exits"]["clients"],
        "model_change": facts["model_change"] or None,
        "calls": calls.call_records(facts["calls"], api.config["risk"]["top_reasons"]),
    }
