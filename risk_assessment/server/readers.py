"""What each reader needs first: this week's calls for the client managers (/calls) and the
data scientist's page (/model). A Blueprint app.create_app adds beside the dashboard's.

Routes  /calls          this week's calls as JSON (?format=csv: a spreadsheet-safe CSV)
        /model          the data scientist's page: effects, reliability, label-free estimate,
                        F1 by version, the decision's statistics
        /client/<id>    one client's page: observations (arrival, source, values, score),
                        rank and band under the last versions, reasons
"""

from __future__ import annotations

from typing import Any

from risk_assessment.core.common import stamp

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import NotFound

from risk_assessment.reports import calls, effects, model_health, numbers, plain, text
from risk_assessment.reports.scientist import scientist_facts
from risk_assessment.reports.week import version_lists
from risk_assessment.server.auth import principal
from risk_assessment.server.dashboard import (
    client_observations,
    health,
    observations,
    records,
    risk_list,
    week,
)
from risk_assessment.server.serving import ApiState, state
from risk_assessment.store import lookups
from risk_assessment.store import records as store

bp = Blueprint("readers", __name__)
bp.add_app_template_global(plain.quality_words, "quality_words")
bp.add_app_template_global(numbers.LABELS, "number_labels")
bp.add_app_template_global(plain.rejected_words, "rejected_words")
bp.add_app_template_global(plain.run_words, "run_words")


@bp.app_template_global()
def column_words(name: str) -> str:
    """A schema column's plain words (its label, else its name)."""
    return state().config["schema"].words(name)


@bp.app_template_global()
def rejections() -> dict[int, dict[str, Any]]:
    """Per batch id, what it rejected (store/lookups.py), read once per store change."""
    api = state()
    folder = api.config["output_folder_path"]
    key = store.change_stamp(folder)
    return api.memo.get("rejections", key, lambda: lookups.rejections_by_batch(folder))


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
    records = calls.call_records(
        facts["calls"], api.config["risk"]["top_reasons"], api.config["schema"]
    )
    if request.args.get("mine"):  # a manager's own list: their calls and the unowned ones
        me = principal()
        records = [r for r in records if r["owner"] in (None, me and me.name)]
    return {
        "model_version": manifest["version"],
        "calls_per_week": facts["per_week"],
        "ordered_by": facts["ordered_by"],
        "current_clients": facts["exits"]["clients"],
        "model_change": facts["model_change"] or None,
        "calls": records,
    }


def places(table) -> list[tuple[int, str]]:
    """(rank, band) of each row of a risk list."""
    return list(zip(table["rank"].tolist(), table["risk_band"].tolist(), strict=True))


def version_ranks(api: ApiState) -> list[dict[str, Any]]:
    """Per last deployed version (newest first): its name, list size and each client's
    (rank, band) on today's data; computed once per deployment and data version."""
    key = (stamp(api.config["prod_deployment_path"] / "versions"), api.observations.version())

    def compute() -> list[dict[str, Any]]:
        return [
            {
                "version": version,
                "total": len(table),
                "places": dict(
                    zip(
                        table[table.columns[0]],  # the client id
                        zip(table["rank"], table["risk_band"], strict=True),
                        strict=True,
                    )
                ),
            }
            for version, table in version_lists(api.config, observations(api))
        ]

    return api.memo.get("version_ranks", key, compute)


@bp.get("/client/<client:corporation>")
def client_page(corporation: str):
    """One client's page: every observation (when and where it arrived) with its score,
    its rank and band under the last versions, and the reasons."""
    api = state()
    listed, manifest, facts, views = risk_list(api)
    history = client_observations(api, corporation)
    if history.empty:
        raise NotFound(f"corporation {corporation!r}: not a known client")
    model, _ = api.models.get()
    schema = api.config["schema"]
    history = history.assign(score=model.predict_proba(history[schema.feature_names])[:, 1])
    arrived = lookups.observation_sources(api.config["output_folder_path"], corporation)
    position = views["position"].get(corporation)
    return render_template(
        "client.html",
        manifest=manifest,
        corporation=corporation,
        client=None if position is None else client_of(listed.iloc[[position]], api),
        value_label=schema.words(schema.value) if schema.value else None,
        total=facts["total"],
        history=[{**o, **arrived.get(o["seq"], {})} for o in history.to_dict(orient="records")],
        features=schema.feature_names,
        labels={f: schema.words(f) for f in schema.feature_names},
        flags={f.name for f in schema.features if f.type == "boolean"},
        versions=version_ranks(api),
    )


def client_of(row, api) -> dict[str, Any]:
    """The client's record, with its value (the schema's value column) where declared."""
    record = records(row, api)[0]
    value = api.config["schema"].value
    if "value_at_risk" in record:
        cell = row[value].iloc[0] if value in row else None
        record["value"] = None if cell is None or cell != cell else float(cell)
    return record


@bp.get("/model")
def model_page():
    """The data scientist's page: what the model learnt, how well its probabilities hold,
    the label-free estimate, F1 by version, and the decision's statistics."""
    api = state()
    model, manifest = api.models.get()
    listed = risk_list(api).listed
    key = (
        id(listed),
        api.testdata.version(),
        store.change_stamp(api.config["output_folder_path"]),  # runs land in the WAL first
    )

    def compute() -> tuple[dict[str, Any], Any]:  # the list kept alive with it
        runs = model_health.run_history(api.config, 50)
        test = api.testdata.get()
        facts = scientist_facts(api.config, model, manifest, runs, test, listed["exit_probability"])
        stats = {"manifest": manifest, "runs": runs, "week": week(api)}
        min_rows = api.config["model_drift"]["min_batch_rows"]
        judged = [r for r in runs if model_health.judgeable(r, min_rows)]
        facts.update(
            decision=text.decision_text(stats),
            drift=text.drift_text({"judged": judged, "words": api.config["schema"].words}),
        )
        return facts, listed

    facts = api.memo.get("model_page", key, compute)[0]
    return render_template(
        "model.html",
        manifest=manifest,
        s=facts,
        health=health(api),
        reliability_svg=effects.reliability_svg(facts["reliability"]),
    )
