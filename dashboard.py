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

import numpy as np
import pandas as pd
from flask import Flask, Response, render_template, request, send_file
from werkzeug.exceptions import BadRequest, NotFound

import diagnostics
import fullprocess
import risk
import scoring
from common import FEATURES, ID_COLUMN, MODEL_META, SCORES_JSON, TARGET, read_json
from deployment import MANIFEST, VERSIONS, list_versions, load_deployed_version

PAGE_ROWS = 25  # clients per dashboard page
SORTS = {
    "rank": ("highest risk first", ["rank"], [True]),
    "-rank": ("lowest risk first", ["rank"], [False]),
    "client": ("client id", [ID_COLUMN], [True]),
    "change": ("changes first", ["change_order", "rank"], [True, True]),
}
CHANGE_ORDER = {"new_high": 0, "up": 1, "new": 2, "down": 3, "": 4}
RISK_CSV, RISK_PREVIOUS = "risk_scores.csv", "risk_scores.previous.csv"
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
    """Every observation of every client, in arrival order (today: finaldata.csv)."""
    return ext["finaldata"].get()


def client_observations(ext: dict[str, Any], corporation: str) -> pd.DataFrame:
    """The observations of one client, in arrival order."""
    data = observations(ext)
    return data[data[ID_COLUMN] == corporation]


def run_history(config: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """The last runs of fullprocess, newest first."""
    return fullprocess.read_history(config["output_folder_path"], limit)


def runs_stamp(config: dict[str, Any]) -> tuple:
    """Changes whenever a run is recorded."""
    return stamp(config["output_folder_path"] / fullprocess.HISTORY_DB)


def saved_lists(config: dict[str, Any]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(risk_scores.csv, risk_scores.previous.csv) as written by reporting, or None."""
    folder = config["output_model_path"]
    return risk.read_people_csv(folder / RISK_CSV), risk.read_people_csv(folder / RISK_PREVIOUS)


def version_history(prod: Path) -> list[dict[str, Any]]:
    """Per deployed version, oldest first: version, folder, time and its test-data scores."""
    rows = []
    for name in list_versions(prod):
        folder = prod / VERSIONS / name
        manifest = read_json(folder / MANIFEST, {}) or {}
        scores = read_json(folder / SCORES_JSON, {}) or {}
        rows.append(
            {
                "version": name,
                "folder": folder,
                "deployed_at": manifest.get("deployed_at"),
                "model_sha256": manifest.get("model_sha256"),
                **{k: scores.get(k) for k in ("f1", "precision", "recall", "roc_auc")},
            }
        )
    return rows


# ---- the risk list ---------------------------------------------------------------------------


def risk_list(ext: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """(the served list with a change column, manifest, facts: band and change counts).

    The baseline is the last written list if it differs from the served one (the list was
    not refreshed yet), else the list before it.
    """
    model, manifest = ext["models"].get()
    config = ext["config"]
    folder = config["output_model_path"]

    def compute(data: pd.DataFrame) -> pd.DataFrame:
        return risk.served_risk_table(model, manifest, data, config["risk"])

    table = ext["finaldata"].get("risk", compute, manifest["model_sha256"])
    key = (id(table), stamp(folder / RISK_CSV, folder / RISK_PREVIOUS))
    listed, facts = ext["memo"].get("risk_list", key, lambda: with_changes(table, config))
    return listed, manifest, facts


def with_changes(table: pd.DataFrame, config: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """The table with change and change_order columns, and the counts shown on top."""
    saved, previous = saved_lists(config)
    baseline = saved if saved is not None and not risk.same_bands(table, saved) else previous
    listed = table.copy()
    listed["change"] = risk.list_changes(listed, baseline)
    listed["change_order"] = listed["change"].map(CHANGE_ORDER)
    bands = listed["risk_band"].value_counts()
    facts = {
        "total": len(listed),
        "bands": {b: int(bands.get(b, 0)) for b in risk.BANDS},
        "changes": risk.change_counts(listed["change"], listed, baseline),
        "has_baseline": baseline is not None,
    }
    return listed, facts


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


def filtered(table: pd.DataFrame, query: dict[str, Any]) -> pd.DataFrame:
    """The rows matching band, change and q (part of the id, any case), sorted."""
    if query["band"]:
        table = table[table["risk_band"] == query["band"]]
    if query["change"]:
        table = table[table["change"] == query["change"]]
    if query["q"]:
        table = table[table[ID_COLUMN].str.lower().str.contains(query["q"].lower(), regex=False)]
    if query["sort"] == "rank":
        return table  # the list is kept in rank order
    _, columns, ascending = SORTS[query["sort"]]
    return table.sort_values(columns, ascending=ascending, kind="stable")


def int_param(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; BadRequest naming it otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name}: {raw!r} is not an integer") from None
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


def scores_with_interval(model, data: pd.DataFrame) -> dict[str, Any]:
    """Metrics of a model on labelled data, with the 95% bootstrap interval of its F1."""
    scores = scoring.score_model(model, data)
    low, high = scoring.f1_interval(data[TARGET], model.predict(data[FEATURES]))
    return {**scores, "f1_low": low, "f1_high": high}


def scores_on_test_data(ext: dict[str, Any], model, sha: str) -> dict[str, Any]:
    """scores_with_interval() on the test data, cached per model and file version."""
    return ext["testdata"].get("scores+interval", lambda d: scores_with_interval(model, d), sha)


def previous_scores(ext: dict[str, Any], versions: list[dict], live: str) -> dict | None:
    """The version deployed before the live one, scored on today's test data (or None)."""
    names = [v["version"] for v in versions]
    if live not in names or names.index(live) == 0:
        return None
    before = versions[names.index(live) - 1]
    try:
        model, _ = load_deployed_version(before["folder"])
    except Exception:  # a damaged old version: show the rest
        return None
    return {"version": before["version"], **scores_on_test_data(ext, model, before["model_sha256"])}


def distributions(meta: dict[str, Any], run: dict | None, current: pd.DataFrame) -> dict:
    """Per feature: training decile shares and those of the judged batch when the run
    recorded them (data_drift_shares), else of today's current clients."""
    profile = meta.get("profile") or {}
    batch = (run or {}).get("data_drift_shares") or {}
    out = {}
    for f in FEATURES:
        ref = profile.get(f)
        if not ref or "shares" not in ref:
            continue
        if f in batch:
            shares, label = batch[f], "batch"
        else:
            idx = np.searchsorted(np.asarray(ref["edges"]), current[f].to_numpy(float), "right")
            counts = np.bincount(idx, minlength=len(ref["shares"]))
            shares, label = (counts / max(len(current), 1)).tolist(), "current clients"
        out[f] = {"training": ref["shares"], "other": shares, "label": label}
    return out


def judgeable(run: dict[str, Any], min_rows: int) -> bool:
    """A run whose batch was scored and large enough to judge (as fullprocess does)."""
    return run.get("batch_f1") is not None and (run.get("new_rows") or 0) >= min_rows


def health(ext: dict[str, Any]) -> dict[str, Any]:
    """F1 with interval against the previous version, last judged batch, drift, history."""
    config = ext["config"]
    model, manifest = ext["models"].get()
    versions = version_history(config["prod_deployment_path"])
    runs = run_history(config, 50)
    key = (manifest["model_sha256"], runs_stamp(config), tuple(v["version"] for v in versions))
    min_rows = config["model_drift"]["min_batch_rows"]

    def compute() -> dict[str, Any]:
        meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
        judged = next((r for r in runs if judgeable(r, min_rows)), None)
        drift_run = next(
            (
                r
                for r in runs
                if judgeable(r, min_rows) and isinstance(r.get("data_drift_psi"), dict)
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
            "distributions": distributions(meta, drift_run, current),
            "history_svg": history_svg(versions, [r for r in runs if judgeable(r, min_rows)]),
            "runs": runs[:5],
            # hook: the label-free performance estimate, once runs record one
            "label_free": next((r for r in runs if r.get("estimated_f1") is not None), None),
        }

    return ext["memo"].get("health", key, compute)


# ---- inline SVG charts (offline, readable at 390 px) -----------------------------------------


def history_svg(versions: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """F1 on the test data of each deployed version (line) and of each judged batch
    (square, with its interval, in the slot of the version it was checked against)."""
    if not versions:
        return ""
    width, height, left, bottom = 360, 170, 34, 26
    n = len(versions)
    step = (width - left - 8) / n

    def x(i: float) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return 8 + (1 - v) * (height - 8 - bottom)

    out = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="F1 of each deployed version and of each judged batch" font-size="12">'
    ]
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e8ef"/>'
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#5b6775">{v:g}</text>'
        )
    points = [(x(i), y(v["f1"])) for i, v in enumerate(versions) if v["f1"] is not None]
    if points:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    label_every = max(1, round(n / 8))
    for i, v in enumerate(versions):
        if v["f1"] is not None:
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v["f1"]):.1f}" r="3.5" fill="#1f5fa8"/>')
            if n <= 8:
                out.append(
                    f'<text x="{x(i):.1f}" y="{y(v["f1"]) - 7:.1f}" text-anchor="middle" '
                    f'fill="#1d2733">{v["f1"]:.2f}</text>'
                )
        if i % label_every == 0 or i == n - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" '
                f'fill="#5b6775">{v["version"]}</text>'
            )
    out += batch_marks(versions, runs, x, y, step)
    out.append("</svg>")
    return "".join(out)


def batch_marks(versions, runs, x, y, step) -> list[str]:
    """The squares and whiskers of the judged batches of history_svg()."""
    slot = {v["version"]: i for i, v in enumerate(versions)}
    judged = [r for r in reversed(runs) if r.get("batch_f1") is not None]
    judged = [r for r in judged if r.get("deployed_version") in slot]  # oldest first
    out = []
    for version, i in slot.items():
        mine = [r for r in judged if r["deployed_version"] == version]
        for k, r in enumerate(mine):
            bx = x(i) + step * (0.08 + 0.38 * (k + 1) / (len(mine) + 1))
            low, high = r.get("batch_f1_low"), r.get("batch_f1_high")
            if low is not None and high is not None:
                out.append(
                    f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
                    'stroke="#1d2733"/>'
                )
            out.append(
                f'<rect x="{bx - 3:.1f}" y="{y(r["batch_f1"]) - 3:.1f}" width="6" height="6" '
                'fill="#1d2733"/>'
            )
    return out


def bars_svg(training: list[float], other: list[float]) -> str:
    """Paired bars per decile bin: training data (grey) and the batch or current clients."""
    n = max(len(training), 1)
    top = max([*training, *other, 0.01])
    width, height, w = 200, 48, 200 / n
    out = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        'aria-hidden="true">'
    ]
    for i, (a, b) in enumerate(zip(training, other, strict=False)):
        for j, (share, colour) in enumerate(((a, "#b9c3cf"), (b, "#1f5fa8"))):
            h = height * share / top
            out.append(
                f'<rect x="{i * w + 1 + j * (w - 2) / 2:.1f}" y="{height - h:.1f}" '
                f'width="{(w - 2) / 2:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
    out.append("</svg>")
    return "".join(out)


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


def page_rows(rows: pd.DataFrame, per_page: int) -> tuple[pd.DataFrame, int, int]:
    """(the rows of the requested page, that page, the number of pages)."""
    pages = max(1, -(-len(rows) // per_page))
    page = min(int_param("page", 1, 1, 10**6), pages)
    return rows.iloc[(page - 1) * per_page : page * per_page], page, pages


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

    @app.get("/")
    def dashboard_page():
        listed, manifest, facts = risk_list(ext)
        query = list_query()
        rows = filtered(listed, query)
        chunk, page, pages = page_rows(rows, PAGE_ROWS)
        return render_template(
            "dashboard.html",
            manifest=manifest,
            facts=facts,
            query=query,
            sorts=SORTS,
            rows=records(chunk, ext),
            matched=len(rows),
            first=(page - 1) * PAGE_ROWS + 1,
            page=page,
            pages=pages,
            health=health(ext),
            psi_band=diagnostics.psi_band,
            bars=bars_svg,
            reports={
                k: (config["output_model_path"] / v).exists() for k, v in REPORT_FILES.items()
            },
        )

    @app.get("/risk")
    def risk_endpoint():
        listed, manifest, _ = risk_list(ext)
        query = list_query()
        rows = filtered(listed, query)
        if request.args.get("format") == "csv":
            return csv_download(rows, query)
        top, page = int_param("top", 50, 1, 1000), int_param("page", 1, 1, 10**6)
        chunk = rows.iloc[(page - 1) * top : page * top]
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
        listed, manifest, _ = risk_list(ext)
        match = listed[listed[ID_COLUMN] == corporation]
        if match.empty:
            raise NotFound(f"corporation {corporation!r}: not a current client")
        return {"model_version": manifest["version"], **records(match, ext)[0]}

    @app.get("/client/<corporation>")
    def client_page(corporation: str):
        listed, manifest, facts = risk_list(ext)
        history = client_observations(ext, corporation)
        if history.empty:
            raise NotFound(f"corporation {corporation!r}: not a known client")
        model, _ = ext["models"].get()
        history = history.assign(score=model.predict_proba(history[FEATURES].astype(float))[:, 1])
        match = listed[listed[ID_COLUMN] == corporation]
        return render_template(
            "client.html",
            manifest=manifest,
            corporation=corporation,
            client=records(match, ext)[0] if not match.empty else None,
            total=facts["total"],
            history=history.to_dict(orient="records"),
            features=FEATURES,
            labels=risk.LABELS,
        )

    @app.get("/runs")
    def runs_page():
        _, manifest = ext["models"].get()
        return render_template("runs.html", manifest=manifest, runs=run_history(config, 200))

    @app.get("/report.pdf", endpoint="report_pdf")
    @app.get("/confusionmatrix.png", endpoint="confusion_png")
    def report_file():
        name = REPORT_FILES[request.path.lstrip("/")]
        path = config["output_model_path"] / name
        if not path.is_file():
            raise NotFound(f"{name}: not written yet; run reporting.py")
        return send_file(path, max_age=0)
