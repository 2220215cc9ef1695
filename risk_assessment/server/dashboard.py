"""The client managers' pages and the risk list's endpoints: a Blueprint app.create_app adds.

Routes  /                    the dashboard: the risk list first, then model health
        /risk                the list as JSON (paged) or CSV (?format=csv: all that match)
        /risk/<id>           one client as JSON
        /client/<id>         one client's page: observations, scores, reasons
        /runs                the run history of fullprocess
        /report.pdf, /confusionmatrix.png   the files reporting.py wrote

Views are module-level functions that take the app's state from serving.state() and
pass it (an ApiState) on; data is read only through the small functions under "data
access", so they can be pointed at another store. Everything that changes only with a
run (the risk list, what changed, the history chart, test-data intervals) is computed
once per file version and cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

from risk_assessment.core.common import METRIC_LABELS, RiskError, stamp

import numpy as np
import pandas as pd
from flask import Blueprint, Response, render_template, request, send_file
from werkzeug.exceptions import BadRequest, NotFound

from risk_assessment.core.columns import check_model_schema
from risk_assessment.deployment.versions import load_deployed_version, read_model_meta
from risk_assessment.reports import diagnostics, model_health, risk
from risk_assessment.reports.week import week_facts
from risk_assessment.server.serving import ApiState, state
from risk_assessment.store import accounts
from risk_assessment.store import records as store

PAGE_ROWS = 25  # clients per dashboard page
SORTS = {
    "rank": "highest risk first",
    "-rank": "lowest risk first",
    "client": "client id",
    "change": "changes first",
    "value": "highest value at risk first",  # by risk without a schema value column
}
REPORT_FILES = {"report.pdf": "summary_report.pdf", "confusionmatrix.png": "confusionmatrix.png"}


# ---- data access: the functions to repoint at another store ----------------------------------


def observations(api: ApiState) -> pd.DataFrame:
    """Every observation of every client, labelled or not, in order of arrival (the store)."""
    return api.observations.get()


def client_observations(api: ApiState, corporation: str) -> pd.DataFrame:
    """The observations of one client, in arrival order (an index built once per file)."""
    data = observations(api)
    ident = api.config["schema"].id
    index = api.observations.get("by_client", lambda d: d.groupby(ident, sort=False).indices)
    return data.iloc[index.get(corporation, [])]


def runs_stamp(config: dict[str, Any]) -> tuple:
    """Changes whenever a run is recorded."""
    return store.change_stamp(config["output_folder_path"])


# ---- the risk list ---------------------------------------------------------------------------


class RiskList(NamedTuple):
    """The served risk list with a change column, the model's manifest, the band and
    change counts (facts), and what filtering and sorting need (views)."""

    listed: pd.DataFrame
    manifest: dict
    facts: dict
    views: dict


def risk_list(api: ApiState) -> RiskList:
    """The risk list of the live model, computed once per model, data and saved lists.

    The baseline is the last written list if it differs from the served one (the list was
    not refreshed yet), else the list before it.
    """
    model, manifest = api.models.get()
    config = api.config
    folder = config["output_model_path"]

    def compute(data: pd.DataFrame) -> pd.DataFrame:
        return risk.served_risk_table(model, manifest, data, config["risk"], config["schema"])

    table = api.observations.get("risk", compute, manifest["model_sha256"])
    # the table (kept alive with the value, so its id is not reused) and the written lists
    key = (id(table), stamp(folder / risk.RISK_CSV, folder / risk.RISK_PREVIOUS))
    listed, facts, views, _ = api.memo.get(
        "risk_list", key, lambda: (*prepared(table, folder), table)
    )
    return RiskList(listed, manifest, facts, views)


def prepared(table: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, dict, dict]:
    """The list with its changes and counts, and arrays for fast filters: lowercased ids,
    a mask per band and change, each client's position, and the row order of every sort."""
    listed, facts = risk.with_changes(table, folder)
    ident = listed.columns[0]  # the risk table's first column is the client id
    ids = listed[ident].to_numpy(dtype=object)
    rank = np.arange(len(listed))
    views = {
        "ids": listed[ident].str.lower().to_numpy(dtype=object),
        "band": {b: (listed["risk_band"] == b).to_numpy() for b in risk.BANDS},
        "change": {c: (listed["change"] == c).to_numpy() for c in risk.CHANGES},
        "position": {c: i for i, c in enumerate(ids)},
        "orders": {
            "rank": rank,
            "-rank": rank[::-1],
            "client": np.argsort(ids, kind="stable"),
            "change": np.lexsort((rank, listed["change_order"].to_numpy())),
            "value": value_order(listed, rank),
        },
    }
    return listed, facts, views


def value_order(listed: pd.DataFrame, rank: np.ndarray) -> np.ndarray:
    """Rows by value at risk, highest first (ties by risk); by risk without a value."""
    if "value_at_risk" not in listed:
        return rank
    return np.lexsort((rank, -listed["value_at_risk"].fillna(0).to_numpy()))


def list_query() -> dict[str, Any]:
    """The filter and sort of this request: q, band, change, sort (BadRequest if invalid)."""
    q = request.args.get("q", "").strip()[:40]
    band = request.args.get("band") or ""
    if band and band not in risk.BANDS:
        raise BadRequest(f"query parameter band: must be one of {', '.join(risk.BANDS)}")
    change = request.args.get("change") or ""
    if change and change not in risk.CHANGES:
        raise BadRequest(f"query parameter change: must be one of {', '.join(risk.CHANGES)}")
    sort = request.args.get("sort") or request.args.get("order") or "rank"  # order: alias
    if sort not in SORTS:
        raise BadRequest(f"query parameter sort: must be one of {', '.join(SORTS)}")
    return {"q": q, "band": band, "change": change, "sort": sort}


def filtered(views: dict[str, Any], query: dict[str, Any]) -> np.ndarray:
    """Positions in the list of the rows matching band, change and q (part of the id,
    any case), in the requested order."""
    keep = np.ones(len(views["ids"]), dtype=bool)
    if query["band"]:
        keep &= views["band"][query["band"]]
    if query["change"]:
        keep &= views["change"][query["change"]]
    if query["q"]:
        q = query["q"].lower()
        keep &= np.fromiter((q in c for c in views["ids"]), dtype=bool, count=len(keep))
    order = views["orders"][query["sort"]]
    return order[keep[order]]


def int_param(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; BadRequest naming it otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):  # int() would also take " 5", "+5", "٥"
        raise BadRequest(f"query parameter {name}: {raw[:40]!r} is not an integer")
    value = int(raw[:12])
    if not low <= value <= high:
        raise BadRequest(f"query parameter {name}: must be between {low} and {high}")
    return value


def csv_download(rows: pd.DataFrame, query: dict[str, Any]) -> Response:
    """The matching rows as a spreadsheet-safe CSV attachment."""
    schema = state().config["schema"]
    columns = [schema.id, "rank", "exit_probability", "risk_band", "change", "top_reasons"]
    columns += [c for c in (schema.value, "value_at_risk") if c and c in rows]  # worth, at risk
    columns += [f"contribution_{f}" for f in schema.feature_names]
    parts = [query[k] for k in ("band", "change") if query[k]]
    name = "_".join(["risk", *parts] + (["search"] if query["q"] else [])) + ".csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(risk.people_csv(rows[columns]), mimetype="text/csv", headers=headers)


def week(api: ApiState) -> dict[str, Any]:
    """This week's calls and the words the dashboard leads with (reports/week.py), cached
    per list, run and deployment."""
    listed, manifest, _, _ = risk_list(api)
    prod = api.config["prod_deployment_path"]
    contacted = accounts.last_contact_id(api.config["output_folder_path"])  # the worklist
    key = (id(listed), runs_stamp(api.config), stamp(prod / "versions"), contacted)

    def compute() -> tuple[dict[str, Any], pd.DataFrame]:  # the list kept alive with it
        runs = model_health.run_history(api.config, 50)
        return week_facts(api.config, listed, manifest, observations(api), runs), listed

    return api.memo.get("week", key, compute)[0]


# ---- model health ----------------------------------------------------------------------------


def scores_on_test_data(api: ApiState, model, sha: str) -> dict[str, Any]:
    """scores_with_interval() on the test data, cached per model and file version."""
    score, schema = model_health.scores_with_interval, api.config["schema"]
    return api.testdata.get("scores+interval", lambda d: score(model, d, schema), sha)


def previous_scores(api: ApiState, versions: list[dict], live: str) -> dict | None:
    """The version deployed before the live one, scored on today's test data (or None)."""
    before = model_health.previous_version(versions, live)
    if before is None:
        return None
    try:
        model, _ = load_deployed_version(
            before["folder"], api.config["deployment"]["signing_key_path"]
        )
        where = before["version"]
        check_model_schema(read_model_meta(before["folder"]), api.config["schema"], where)
    except RiskError:  # a damaged old version, or one of other columns: not compared
        return {"version": before["version"], "f1": None}
    return {"version": before["version"], **scores_on_test_data(api, model, before["model_sha256"])}


def health_facts(api: ApiState, model, manifest: dict[str, Any]) -> dict[str, Any]:
    """Everything the model health panel shows, read from the store and the files."""
    config, prod = api.config, api.config["prod_deployment_path"]
    min_rows = config["model_drift"]["min_batch_rows"]
    versions = model_health.version_history(prod)
    runs = model_health.run_history(config, 50)
    meta = read_model_meta(manifest["folder"])
    judged_runs = [r for r in runs if model_health.judgeable(r, min_rows)]
    drift_runs = (r for r in judged_runs if isinstance(r.get("data_drift_psi"), dict))
    drift_run = next(drift_runs, None)
    current = risk.current_clients(observations(api), config["schema"])
    return {
        "meta": meta,
        "scores": scores_on_test_data(api, model, manifest["model_sha256"]),
        "previous": previous_scores(api, versions, manifest["version"]),
        "versions": versions,
        "judged": judged_runs[0] if judged_runs else None,
        "drift_run": drift_run,
        "distributions": model_health.distributions(meta, drift_run, current),
        "history_svg": model_health.history_svg(versions, judged_runs),
        "runs": runs[:5],
        # hook: the label-free performance estimate, once runs record one
        "label_free": next((r for r in runs if r.get("estimated_f1") is not None), None),
    }


def health(api: ApiState) -> dict[str, Any]:
    """F1 with interval against the previous version, last judged batch, drift, history."""
    model, manifest = api.models.get()
    key = (  # a run, a deployment or new data: stat() calls only, no reading
        manifest["model_sha256"],
        runs_stamp(api.config),
        stamp(api.config["prod_deployment_path"] / "versions"),
        api.testdata.version(),
        api.observations.version(),
    )
    return api.memo.get("health", key, lambda: health_facts(api, model, manifest))


# ---- pages and endpoints ---------------------------------------------------------------------


def when(iso: str | None) -> str:
    """An ISO time for people: '2026-11-26 14:05 UTC'."""
    if not iso:
        return "n/a"
    return iso[:16].replace("T", " ") + (" UTC" if iso.endswith(("+00:00", "Z")) else "")


def link(path: str = "/", **changes: Any) -> str:
    """This request's URL query with some values changed (empty values dropped), on path."""
    args = {**request.args.to_dict(), **changes}
    args = {k: v for k, v in args.items() if v not in (None, "")}
    return f"{path}?{urlencode(args)}" if args else path


def page_rows(positions: np.ndarray, per_page: int) -> tuple[np.ndarray, int, int]:
    """(the positions of the requested page, that page, the number of pages)."""
    pages = max(1, -(-len(positions) // per_page))
    page = min(int_param("page", 1, 1, 10**6), pages)
    return positions[(page - 1) * per_page : page * per_page], page, pages


def records(rows: pd.DataFrame, api: ApiState) -> list[dict[str, Any]]:
    """Rows of the list as client_record()s."""
    top = api.config["risk"]["top_reasons"]
    schema = api.config["schema"]
    return [risk.client_record(r, top, schema) for r in rows.to_dict(orient="records")]


bp = Blueprint("dashboard", __name__)
bp.add_app_template_filter(when)


@bp.app_context_processor
def schema_names() -> dict[str, Any]:
    """The client id's column name, for the templates."""
    config = state().config
    return {"id_column": config["schema"].id, "recontact_days": config["risk"]["recontact_days"]}


bp.add_app_template_filter(risk.percent, "percent")
bp.add_app_template_global(link)
bp.add_app_template_global(risk.CHANGES, "change_names")
bp.add_app_template_global(METRIC_LABELS, "metric_labels")


@bp.app_context_processor
def written_reports() -> dict[str, Any]:
    """Which of the report files exist (the header links only to those)."""
    folder = state().config["output_model_path"]
    return {"reports": {k: (folder / v).is_file() for k, v in REPORT_FILES.items()}}


@bp.get("/")
def dashboard_page():
    """The dashboard: a page of the risk list, then model health."""
    api = state()
    listed, manifest, facts, views = risk_list(api)
    query = list_query()
    rows = filtered(views, query)
    chunk, page, pages = page_rows(rows, PAGE_ROWS)
    return render_template(
        "dashboard.html",
        manifest=manifest,
        facts=facts,
        query=query,
        sorts=SORTS,
        rows=records(listed.iloc[chunk], api),
        matched=len(rows),
        first=(page - 1) * PAGE_ROWS + 1,
        page=page,
        pages=pages,
        health=health(api),
        week=week(api),
        psi_band=diagnostics.psi_band,
        bars=model_health.bars_svg,
    )


@bp.get("/risk")
def risk_endpoint():
    """A page of the risk list as JSON, or every matching row as CSV (?format=csv)."""
    api = state()
    listed, manifest, _, views = risk_list(api)
    query = list_query()
    rows = filtered(views, query)
    if request.args.get("format") == "csv":
        return csv_download(listed.iloc[rows], query)
    top, page = int_param("top", 50, 1, 1000), int_param("page", 1, 1, 10**6)
    chunk = listed.iloc[rows[(page - 1) * top : page * top]]
    return {
        "model_version": manifest["version"],
        "total": len(rows),
        "page": page,
        "top": top,
        "band": query["band"] or None,
        "clients": records(chunk, api),
    }


@bp.get("/risk/<client:corporation>")
def risk_client(corporation: str):
    """One current client of the risk list, with its reasons."""
    api = state()
    listed, manifest, _, views = risk_list(api)
    position = views["position"].get(corporation)
    if position is None:
        raise NotFound(f"corporation {corporation!r}: not a current client")
    return {"model_version": manifest["version"], **records(listed.iloc[[position]], api)[0]}


@bp.get("/runs")
def runs_page():
    """The run history of fullprocess."""
    _, manifest = state().models.get()
    runs = model_health.run_history(state().config, 200)
    return render_template("runs.html", manifest=manifest, runs=runs)


@bp.get("/report.pdf", endpoint="report_pdf")
@bp.get("/confusionmatrix.png", endpoint="confusion_png")
def report_file():
    """A file reporting.py wrote (404 until it has)."""
    name = REPORT_FILES[request.path.lstrip("/")]
    path = state().config["output_model_path"] / name
    if not path.is_file():
        raise NotFound(f"{name}: not written yet; run reporting.py")
    return send_file(path, max_age=0)
