"""HTTP API over the deployed model and the diagnostics. Every answer is JSON (but /).

Speaks MLflow's scoring protocol on /invocations (protocol.py), describes itself at
/openapi.json (openapi.py) and counts itself at /metrics (metrics.py).
Reads   the deployed model (prod_deployment_path/current), finaldata.csv, the test data,
        the recorded timings and the cached dependency table
Run     python app.py [--config config.json]          development server, 127.0.0.1:8000
        gunicorn -c gunicorn.conf.py wsgi:app          production (see README)
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

import diagnostics
import fullprocess
import ingestion
import reporting
from common import (
    FINALDATA,
    ID_COLUMN,
    MODEL_META,
    DataError,
    ModelError,
    cli_parser,
    load_config,
    now_iso,
    read_json,
    run_cli,
)
from metrics import Metrics
from openapi import openapi_spec
from protocol import (
    STATUS_CODES,
    ApiError,
    check_content_type,
    csv_rows,
    from_records,
    invalid,
    mlflow_rows,
    parse_json,
)
from scoring import score_model, test_data_file
from serving import ModelHolder, predict, read_data_file, strip_paths

log = logging.getLogger("app")

BANDS = ("high", "medium", "low")
DASHBOARD_ROWS = 25  # clients listed on the dashboard; search and /risk reach the rest


def body_bytes() -> bytes:
    """The request body; 408 when the client stalls past the server's read timeout."""
    try:
        return request.get_data(cache=False)
    except (OSError, ClientDisconnected):  # read timeout set by gunicorn.conf.py
        raise ApiError(408, "request body: not received in time") from None


def request_rows(max_rows: int) -> tuple:
    """(ids, matrix) of an MLflow scoring request (JSON or CSV)."""
    mime = check_content_type(request.content_type)
    raw = body_bytes()
    if mime == "text/csv":
        return csv_rows(raw, "CSV body", max_rows)
    return mlflow_rows(parse_json(raw), max_rows)


def prediction_rows(config: dict[str, Any]) -> tuple:
    """(ids, matrix, source, paging) of a /prediction request: a file, records or CSV.

    Files are paged (offset, limit in `paging`, the query or the body); request bodies
    are capped at api.max_rows and have no paging (None).
    """
    max_rows = int(config["api"]["max_rows"])
    if request.method == "GET":
        given = request.args.get("filename") or request.args.get("filepath")
        if not given:
            raise ApiError(400, "query parameter filename is required")
        return csv_rows(read_data_file(config, given), given, 10**9) + (given, request.args)
    mime = check_content_type(request.content_type)
    raw = body_bytes()
    if mime == "text/csv":
        return csv_rows(raw, "CSV body", max_rows) + ("CSV body", None)
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "request body: must be a JSON object")
    unknown = sorted(set(body) - {"records", "filepath", "offset", "limit"})
    if unknown or ("records" in body and len(body) > 1):
        extra = ", ".join(unknown) or ", ".join(sorted(set(body) - {"records"}))
        raise ApiError(
            400,
            f"request body: unexpected key(s) {extra[:200]}; give 'filepath' "
            "(with offset, limit) or 'records'",
        )
    if "records" in body:
        return from_records(body["records"], "records", max_rows) + ("records", None)
    if "filepath" in body:
        if not isinstance(body["filepath"], str):
            raise invalid("filepath: must be a string")
        rows = csv_rows(read_data_file(config, body["filepath"]), body["filepath"], 10**9)
        return rows + (body["filepath"], body)
    raise ApiError(400, "request body: give 'filepath' or 'records' (or send text/csv)")


def page_args(args: Any, max_rows: int) -> tuple[int, int]:
    """(offset, limit) of a paged file prediction, from the query or the JSON body."""
    values = []
    for name, default, high in (("offset", 0, 10**9), ("limit", max_rows, max_rows)):
        raw = args.get(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        try:
            value = int(raw) if not isinstance(raw, bool | float) else None
        except (TypeError, ValueError):
            value = None
        if value is None or not (0 if name == "offset" else 1) <= value <= high:
            low = 0 if name == "offset" else 1
            raise invalid(f"{name}: must be an integer between {low} and {high}")
        values.append(value)
    return values[0], values[1]


class DatasetCache:
    """A schema-checked CSV, reread only when the file changes, with values derived from it.

    Requests read finaldata.csv and the test data many times between (rare) changes;
    a 1,000,000-row finaldata.csv takes seconds to validate, a cache hit microseconds.
    """

    def __init__(self, path: Path, hint: str):
        self.path, self.hint = path, hint
        self.lock = threading.Lock()
        self.key, self.data, self.derived = None, None, {}

    def version(self) -> tuple:
        """What identifies the file's current content (mtime and size)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise ApiError(503, f"{self.path.name} not found; {self.hint}") from None
        return (stat.st_mtime_ns, stat.st_size)

    def get(self, name: str | None = None, compute=None, extra: Any = None):
        """The data, or compute(data) memoized under (name, extra) for this file version."""
        key = self.version()
        with self.lock:
            if key != self.key:
                self.data, self.derived, self.key = ingestion.load_dataset(self.path), {}, key
            if name is None:
                return self.data
            if (name, extra) not in self.derived:
                self.derived[(name, extra)] = compute(self.data)
            return self.derived[(name, extra)]


def risk_for(ext: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(risk table, manifest) of the model being served, memoized per model and data."""
    model, manifest = ext["models"].get()

    def compute(data: pd.DataFrame) -> pd.DataFrame:
        return reporting.served_risk_table(model, manifest, data, ext["config"]["risk"])

    return ext["finaldata"].get("risk", compute, manifest["model_sha256"]), manifest


def scores_for(ext: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics on the test data, manifest) of the model being served, memoized."""
    model, manifest = ext["models"].get()
    scores = ext["testdata"].get(
        "scores", lambda d: score_model(model, d), manifest["model_sha256"]
    )
    return scores, manifest


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; ApiError 400 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):  # int() would also take " 5", "+5", "٥"
        raise ApiError(400, f"query parameter {name}: {raw[:40]!r} is not an integer")
    value = int(raw[:12])
    if not low <= value <= high:
        raise ApiError(400, f"query parameter {name}: must be between {low} and {high}")
    return value


def band_arg() -> str | None:
    """The band query parameter: high, medium, low or absent; ApiError 400 otherwise."""
    band = request.args.get("band") or None
    if band not in (None, *BANDS):
        raise ApiError(400, f"query parameter band: must be one of {', '.join(BANDS)}")
    return band


def filter_risk(table: pd.DataFrame, band: str | None, query: str = "") -> pd.DataFrame:
    """Rows of the risk table in a band and/or whose id contains query."""
    if band:
        table = table[table["risk_band"] == band]
    if query:
        ids = table[ID_COLUMN].str.lower()
        table = table[ids.str.contains(query.strip().lower(), regex=False)]
    return table


def register_routes(app: Flask, config: dict[str, Any], models: ModelHolder) -> None:
    """The API's routes."""

    @app.route("/prediction", methods=["GET", "POST"])
    def prediction():
        model, manifest = models.predictor()
        ids, matrix, source, paging = prediction_rows(config)
        total, offset = len(matrix), 0
        if paging is not None:
            offset, limit = page_args(paging, int(config["api"]["max_rows"]))
            ids = ids[offset : offset + limit] if ids is not None else None
            matrix = matrix[offset : offset + limit]
        preds, proba = predict(model, matrix) if len(matrix) else ([], [])
        pairs = zip(preds, proba, strict=True)
        rows = [{"prediction": int(p), "probability": float(q)} for p, q in pairs]
        if ids is not None:
            rows = [{ID_COLUMN: i, **r} for i, r in zip(ids, rows, strict=True)]
        answer = {"model_version": manifest["version"], "rows": len(rows), "predictions": rows}
        if paging is not None:
            end = offset + len(rows)
            answer.update(total=total, offset=offset, next_offset=end if end < total else None)
        return jsonify(answer)

    @app.post("/invocations")
    def invocations():
        model, _ = models.predictor()
        _, matrix = request_rows(int(config["api"]["max_rows"]))
        return jsonify(predictions=predict(model, matrix, proba=False)[0].tolist())

    @app.get("/scoring")
    def scoring_route():
        scores, manifest = scores_for(app.extensions["risk"])
        path = test_data_file(config["test_data_path"])
        return jsonify(model_version=manifest["version"], test_data=path.name, **scores)

    @app.get("/summarystats")
    @app.get("/summary")  # the original project's write-ups use both spellings
    def summarystats():
        finaldata = app.extensions["risk"]["finaldata"]
        data = finaldata.get()
        summary = finaldata.get("summary", diagnostics.dataframe_summary)
        return jsonify(rows=len(data), summary=summary)

    @app.get("/diagnostics")
    def diagnostics_route():
        missing = app.extensions["risk"]["finaldata"].get("missing", diagnostics.missing_data)
        deps = diagnostics.read_cached_dependencies(
            config["output_model_path"] / diagnostics.DEPENDENCIES_CACHE
        )
        return jsonify(
            missing_data=missing,
            execution_time=diagnostics.recorded_timings(config),
            dependencies=deps or {"packages": [], "note": "not checked yet: run diagnostics.py"},
        )

    @app.get("/risk")
    def risk():
        table, manifest = risk_for(app.extensions["risk"])
        top, page, band = int_arg("top", 50, 1, 1000), int_arg("page", 1, 1, 10**6), band_arg()
        rows = filter_risk(table, band)
        chunk = rows.iloc[(page - 1) * top : page * top]
        n = config["risk"]["top_reasons"]
        return jsonify(
            model_version=manifest["version"],
            total=len(rows),
            page=page,
            top=top,
            band=band,
            clients=[reporting.client_record(r, n) for r in chunk.to_dict(orient="records")],
        )

    @app.get("/risk/<corporation>")
    def risk_client(corporation: str):
        table, manifest = risk_for(app.extensions["risk"])
        match = table[table[ID_COLUMN] == corporation]
        if match.empty:
            raise ApiError(404, f"corporation {corporation!r}: not a known client")
        row = match.iloc[0].to_dict()
        return jsonify(
            model_version=manifest["version"],
            **reporting.client_record(row, config["risk"]["top_reasons"]),
        )

    @app.get("/")
    def dashboard():
        return render_template("dashboard.html", **dashboard_context(app))

    @app.get("/ping")
    def ping():
        models.get()
        return Response("\n", mimetype="application/json")

    @app.get("/health")
    def health():
        try:
            _, manifest = models.get()
        except ApiError as exc:
            body = {"status": "unavailable", "error_code": exc.code, "message": str(exc)}
            return jsonify(**body, error=str(exc)), 503
        return jsonify(
            status="ok",
            model_version=manifest["version"],
            deployed_at=manifest["deployed_at"],
            reload_error=models.error,
        )

    description = openapi_spec(int(config["api"]["max_rows"]))

    @app.get("/openapi.json")
    def openapi_json():
        return jsonify(description)

    @app.get("/metrics")
    def metrics_route():
        try:
            models.get()  # so the served model shows even before the first prediction
        except ApiError:
            pass
        body, content_type = app.extensions["risk"]["metrics"].exposition()
        return Response(body, content_type=content_type)

    @app.get("/version")
    def version():
        _, manifest = models.get()
        return jsonify(
            model_version=manifest["version"],
            model_sha256=manifest["model_sha256"],
            deployed_at=manifest["deployed_at"],
            f1=manifest["f1"],
        )


def error_answer(status: int, message: str, code: str | None = None):
    """MLflow's error shape {"error_code", "message"}, plus "error" (the same message)."""
    code = code or STATUS_CODES.get(status, "BAD_REQUEST")
    return jsonify(error_code=code, message=message, error=message), status


def register_metrics(app: Flask, metrics: Metrics) -> None:
    """Count every request and its time per endpoint (the route's rule, not the raw path)."""

    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def count(response: Response):
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.observe(rule, request.method, response.status_code, elapsed)
        return response


def register_errors(app: Flask) -> None:
    """Every error becomes JSON with the right status and an MLflow error code."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_answer(exc.status, str(exc), exc.code)

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        return error_answer(400, strip_paths(str(exc)), "INVALID_PARAMETER_VALUE")

    @app.errorhandler(ModelError)
    def model_error(exc: ModelError):
        return error_answer(503, strip_paths(str(exc)))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = "ENDPOINT_NOT_FOUND" if exc.code == 404 else None
        response, status = error_answer(exc.code or 500, f"{exc.name}: {exc.description}", code)
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        return error_answer(500, "internal error; see the server log")


METRIC_LABELS = [
    ("f1", "F1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("roc_auc", "ROC AUC"),
    ("accuracy", "accuracy"),
]


def heat(count: int, total: int) -> str:
    """A blue background for a confusion-matrix cell, darker for larger counts."""
    share = count / total if total else 0
    return f"rgba(31, 95, 168, {0.08 + 0.6 * share:.2f})"


def dashboard_context(app: Flask) -> dict[str, Any]:
    """Everything the dashboard template shows."""
    ext = app.extensions["risk"]
    config = ext["config"]
    _, manifest = ext["models"].get()
    meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
    meta["training_data_name"] = Path(meta.get("training_data", "?")).name
    test_path = test_data_file(config["test_data_path"])
    scores, _ = scores_for(ext)
    table, _ = risk_for(ext)
    q, band = request.args.get("q", "")[:40], band_arg()
    matches = filter_risk(table, band, q)
    n = config["risk"]["top_reasons"]
    versions = reporting.version_history(config["prod_deployment_path"])
    runs = fullprocess.read_history(config["output_folder_path"], 50)
    drift_run = next((r for r in runs if isinstance(r.get("data_drift_psi"), dict)), None)
    total = sum(scores["confusion_matrix"].values())
    return {
        "manifest": manifest,
        "meta": meta,
        "now": now_iso(),
        "test_data": test_path.name,
        "scores": scores,
        "metric_labels": METRIC_LABELS,
        "fmt": lambda x: "n/a" if x is None else f"{x:.3f}",
        "heat": lambda c: heat(c, total),
        "versions": versions,
        "history_svg": reporting.figure_svg(reporting.history_figure(versions, runs, (11, 3.6)))
        if versions
        else "",
        "q": q,
        "band": band,
        "risk_total": len(matches),
        "risk_rows": [
            reporting.client_record(r, n)
            for r in matches.head(DASHBOARD_ROWS).to_dict(orient="records")
        ],
        "drift_run": drift_run,
        "psi_band": diagnostics.psi_band,
        "runs": runs[:10],
    }


def create_app(config: dict[str, Any] | str | Path | None = None) -> Flask:
    """Build the API from a loaded config, a config file path, or the default config."""
    if not isinstance(config, dict):
        config = load_config(config)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=int(config["api"]["max_request_bytes"]), JSON_SORT_KEYS=False
    )
    app.json.sort_keys = False
    models = ModelHolder(config["prod_deployment_path"], config["deployment"]["signing_key_path"])
    app.extensions["risk"] = {
        "config": config,
        "models": models,
        "finaldata": DatasetCache(config["output_folder_path"] / FINALDATA, "run ingestion.py"),
        "testdata": DatasetCache(test_data_file(config["test_data_path"]), "check test_data_path"),
        "metrics": Metrics(models, config["output_folder_path"]),
    }
    register_routes(app, config, models)
    register_errors(app)
    register_metrics(app, app.extensions["risk"]["metrics"])
    return app


def main() -> int:
    """Serve the API with Flask's development server (no debug mode)."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    app = create_app(config)
    app.run(host=config["api"]["host"], port=int(config["api"]["port"]), debug=False)
    return 0


if __name__ == "__main__":
    run_cli(main, "app")
