"""The client managers' pages and the risk list's endpoints, registered by app.create_app.

Routes  /                    the dashboard: the risk list first, then model health
        /risk                the list as JSON (paged) or CSV (?format=csv: all that match)
        /risk/<id>           one client as JSON
        /client/<id>         one client's page: observations, scores, reasons
        /runs                the run history of fullprocess
        /report.pdf, /confusionmatrix.png   the files reporting.py wrote

Reads only through the small functions under "data access", so they can be pointed at
another store. Everything that changes only with a run (the risk list, what changed,
the history chart, test-data intervals) is computed once per file version and cached.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from common import FEATURES, ID_COLUMN, MODEL_META, RiskError, read_json

import numpy as np
import pandas as pd
from flask import Flask, Response, render_template, request, send_file
from werkzeug.exceptions import BadRequest, NotFound

import diagnostics
import model_health
import risk
import store
from deployment import load_deployed_version

PAGE_ROWS = 25  # clients per dashboard page
SORTS = {
    "rank": "highest risk first",
    "-rank": "lowest risk first",
    "client": "client id",
    "change": "changes first",
}
REPORT_FILES = {"report.pdf": "summary_report.pdf", "confusionmatrix.png": "confusionmatrix.png"}


# ---- a cache of values that change only with a run -------------------------------------------


class Memo:
    """One value per name, recomputed only when its key (file stamps, versions) changes."""

    def __init__(self):
        self.lock, self.values = threading.Lock(), {}

    def get(self, name: str, key: Any, compute):
        """compute() for this key, or the value kept from the last call with the same key."""
        with self.lock:
            kept = self.values.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        value = compute()
        with self.lock:
            self.values[name] = (key, value)
        return value


def stamp(*paths: Path) -> tuple:
    """What identifies the current content of files: (mtime, size) each, None if absent."""
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


# ---- data access: the functions to repoint at another store ----------------------------------


def observations(ext: dict[str, Any]) -> pd.DataFrame:
    """Every observation of every client, labelled or not, in order of arrival (the store)."""
    return ext["observations"].get()


def client_observations(ext: dict[str, Any], corporation: str) -> pd.DataFrame:
    """The observations of one client, in arrival order (an index built once per file)."""
    data = observations(ext)
    index = ext["observations"].get("by_client", lambda d: d.groupby(ID_COLUMN, sort=False).indices)
    return data.iloc[index.get(corporation, [])]


def runs_stamp(config: dict[str, Any]) -> tuple:
    """Changes whenever a run is recorded."""
    return stamp(config["output_folder_path"] / store.STORE_FILE)


# ---- the risk list ---------------------------------------------------------------------------


def risk_list(ext: dict[str, Any]) -> tuple[pd.DataFrame, dict, dict, dict]:
    """(the served list with a change column, manifest, facts: band and change counts,
    views: what filtering and sorting need), computed once per model, data and saved lists.

    The baseline is the last written list if it differs from the served one (the list was
    not refreshed yet), else the list before it.
    """
    model, manifest = ext["models"].get()
    config = ext["config"]
    folder = config["output_model_path"]

    def compute(data: pd.DataFrame) -> pd.DataFrame:
        return risk.served_risk_table(model, manifest, data, config["risk"])

    table = ext["observations"].get("risk", compute, manifest["model_sha256"])
    # the table (kept alive with the value, so its id is not reused) and the written lists
    key = (id(table), stamp(folder / risk.RISK_CSV, folder / risk.RISK_PREVIOUS))
    listed, facts, views, _ = ext["memo"].get(
        "risk_list", key, lambda: (*prepared(table, folder), table)
    )
    return listed, manifest, facts, views


def prepared(table: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, dict, dict]:
    """The list with its changes and counts, and arrays for fast filters: lowercased ids,
    a mask per band and change, each client's position, and the row order of every sort."""
    listed, facts = risk.with_changes(table, folder)
    ids = listed[ID_COLUMN].to_numpy(dtype=object)
    rank = np.arange(len(listed))
    views = {
        "ids": listed[ID_COLUMN].str.lower().to_numpy(dtype=object),
        "band": {b: (listed["risk_band"] == b).to_numpy() for b in risk.BANDS},
        "change": {c: (listed["change"] == c).to_numpy() for c in risk.CHANGES},
        "position": {c: i for i, c in enumerate(ids)},
        "orders": {
            "rank": rank,
            "-rank": rank[::-1],
            "client": np.argsort(ids, kind="stable"),
            "change": np.lexsort((rank, listed["change_order"].to_numpy())),
        },
    }
    return listed, facts, views


def list_query() -> dict[str, Any]:
    """The filter and sort of this request: q, band, change, sort (BadRequest if invalid)."""
    q = request.args.get("q", "").strip()[:40]
    band = request.args.get("band") or ""
    if band and band not in risk.BANDS:
        raise BadRequest(f"query parameter band: must be one of {', '.join(risk.BANDS)}")
    change = request.args.get("change") or ""
    if change and change not in risk.CHANGES:
        raise BadRequest(f"query parameter change: must be one of {', '.join(risk.CHANGES)}")
    sort = request.args.get("sort") or "rank"
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
    columns = [ID_COLUMN, "rank", "exit_probability", "risk_band", "change", "top_reasons"]
    columns += [f"contribution_{f}" for f in FEATURES]
    parts = [query[k] for k in ("band", "change") if query[k]]
    name = "_".join(["risk", *parts] + (["search"] if query["q"] else [])) + ".csv"
    return Response(
        risk.people_csv(rows[columns]),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- model health ----------------------------------------------------------------------------


def scores_on_test_data(ext: dict[str, Any], model, sha: str) -> dict[str, Any]:
    """scores_with_interval() on the test data, cached per model and file version."""
    score = model_health.scores_with_interval
    return ext["testdata"].get("scores+interval", lambda d: score(model, d), sha)


def previous_scores(ext: dict[str, Any], versions: list[dict], live: str) -> dict | None:
    """The version deployed before the live one, scored on today's test data (or None)."""
    before = model_health.previous_version(versions, live)
    if before is None:
        return None
    try:
        model, _ = load_deployed_version(
            before["folder"], ext["config"]["deployment"]["signing_key_path"]
        )
    except RiskError:  # a damaged old version: show the rest
        return None
    return {"version": before["version"], **scores_on_test_data(ext, model, before["model_sha256"])}


def health(ext: dict[str, Any]) -> dict[str, Any]:
    """F1 with interval against the previous version, last judged batch, drift, history."""
    config = ext["config"]
    model, manifest = ext["models"].get()
    prod = config["prod_deployment_path"]
    key = (  # a run, a deployment or new data: stat() calls only, no reading
        manifest["model_sha256"],
        runs_stamp(config),
        stamp(prod / "versions"),
        ext["testdata"].version(),
        ext["observations"].version(),
    )
    min_rows = config["model_drift"]["min_batch_rows"]

    def compute() -> dict[str, Any]:
        versions = model_health.version_history(prod)
        runs = model_health.run_history(config, 50)
        meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
        judged_runs = [r for r in runs if model_health.judgeable(r, min_rows)]
        judged = judged_runs[0] if judged_runs else None
        drift_run = next(
            (
                r
                for r in runs
                if model_health.judgeable(r, min_rows) and isinstance(r.get("data_drift_psi"), dict)
            ),
            None,
        )
        current = risk.current_clients(observations(ext))
        return {
            "meta": meta,
            "scores": scores_on_test_data(ext, model, manifest["model_sha256"]),
            "previous": previous_scores(ext, versions, manifest["version"]),
            "versions": versions,
            "judged": judged,
            "drift_run": drift_run,
            "distributions": model_health.distributions(meta, drift_run, current),
            "history_svg": model_health.history_svg(versions, judged_runs),
            "runs": runs[:5],
            # hook: the label-free performance estimate, once runs record one
            "label_free": next((r for r in runs if r.get("estimated_f1") is not None), None),
        }

    return ext["memo"].get("health", key, compute)


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


def records(rows: pd.DataFrame, ext: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the list as client_record()s."""
    top = ext["config"]["risk"]["top_reasons"]
    return [risk.client_record(r, top) for r in rows.to_dict(orient="records")]


def register(app: Flask) -> None:
    """Add the dashboard, the risk endpoints and the file links to the app."""
    ext = app.extensions["risk"]
    ext["memo"] = Memo()
    config = ext["config"]
    app.add_template_filter(when)
    app.add_template_filter(risk.percent, "percent")
    app.add_template_global(link)
    app.add_template_global(risk.CHANGES, "change_names")

    @app.context_processor
    def written_reports() -> dict[str, Any]:
        """Which of the report files exist (the header links only to those)."""
        folder = config["output_model_path"]
        return {"reports": {k: (folder / v).is_file() for k, v in REPORT_FILES.items()}}

    @app.get("/")
    def dashboard_page():
        listed, manifest, facts, views = risk_list(ext)
        query = list_query()
        rows = filtered(views, query)
        chunk, page, pages = page_rows(rows, PAGE_ROWS)
        return render_template(
            "dashboard.html",
            manifest=manifest,
            facts=facts,
            query=query,
            sorts=SORTS,
            rows=records(listed.iloc[chunk], ext),
            matched=len(rows),
            first=(page - 1) * PAGE_ROWS + 1,
            page=page,
            pages=pages,
            health=health(ext),
            psi_band=diagnostics.psi_band,
            bars=model_health.bars_svg,
        )

    @app.get("/risk")
    def risk_endpoint():
        listed, manifest, _, views = risk_list(ext)
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
            "clients": records(chunk, ext),
        }

    @app.get("/risk/<corporation>")
    def risk_client(corporation: str):
        listed, manifest, _, views = risk_list(ext)
        position = views["position"].get(corporation)
        if position is None:
            raise NotFound(f"corporation {corporation!r}: not a current client")
        return {"model_version": manifest["version"], **records(listed.iloc[[position]], ext)[0]}

    @app.get("/client/<corporation>")
    def client_page(corporation: str):
        listed, manifest, facts, views = risk_list(ext)
        history = client_observations(ext, corporation)
        if history.empty:
            raise NotFound(f"corporation {corporation!r}: not a known client")
        model, _ = ext["models"].get()
        history = history.assign(score=model.predict_proba(history[FEATURES].astype(float))[:, 1])
        position = views["position"].get(corporation)
        return render_template(
            "client.html",
            manifest=manifest,
            corporation=corporation,
            client=None if position is None else records(listed.iloc[[position]], ext)[0],
            total=facts["total"],
            history=history.to_dict(orient="records"),
            features=FEATURES,
            labels=risk.LABELS,
        )

    @app.get("/runs")
    def runs_page():
        _, manifest = ext["models"].get()
        runs = model_health.run_history(config, 200)
        return render_template("runs.html", manifest=manifest, runs=runs)

    @app.get("/report.pdf", endpoint="report_pdf")
    @app.get("/confusionmatrix.png", endpoint="confusion_png")
    def report_file():
        name = REPORT_FILES[request.path.lstrip("/")]
        path = config["output_model_path"] / name
        if not path.is_file():
            raise NotFound(f"{name}: not written yet; run reporting.py")
        return send_file(path, max_age=0)
