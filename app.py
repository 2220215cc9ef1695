"""HTTP API over the deployed model and the diagnostics. Every answer is JSON.

Reads   the deployed model (prod_deployment_path/current), finaldata.csv, the test data,
        the recorded timings and the cached dependency table
Run     python app.py [--config config.json]          development server, 127.0.0.1:8000
        gunicorn --bind 127.0.0.1:8000 wsgi:app        production (see README)
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

import diagnostics
import fullprocess
import ingestion
import reporting
from common import (
    FEATURES,
    FINALDATA,
    ID_COLUMN,
    MODEL_META,
    DataError,
    ModelError,
    RiskError,
    cli_parser,
    load_config,
    now_iso,
    read_json,
    run_cli,
)
from deployment import CURRENT, load_deployed
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

log = logging.getLogger("app")

BANDS = ("high", "medium", "low")
DASHBOARD_ROWS = 25  # clients listed on the dashboard; search and /risk reach the rest


class ModelHolder:
    """The deployed model, loaded lazily, reloaded when `current` changes.

    If a newly deployed model fails verification, the last good one keeps serving and
    the failure is reported by /health.
    """

    def __init__(self, prod: Path, key_file: Path):
        self.prod, self.key_file = prod, key_file
        self.lock = threading.Lock()
        self.target: str | None = None  # the `current` link target last tried
        self.model = None
        self.manifest: dict[str, Any] | None = None
        self.error: str | None = None

    def get(self):
        """(model, manifest) of the live version; ApiError 503 when none can be loaded."""
        link = self.prod / CURRENT
        try:
            target = str(link.readlink())
        except OSError:
            target = None
        with self.lock:
            if target != self.target or self.model is None:
                self.target = target
                try:
                    self.model, self.manifest = load_deployed(self.prod, self.key_file)
                    self.error = None
                    log.info("serving model %s", self.manifest["version"])
                except RiskError as exc:
                    self.error = strip_paths(str(exc))  # answers never show server folders
                    log.error("%s", exc)
            if self.model is None:
                raise ApiError(503, self.error or "no deployed model")
            return self.model, self.manifest


MAX_PATH_CHARS = 1024  # longer filepath values are refused before touching the file system
MAX_NAME_BYTES = 255  # per path component (NAME_MAX)
MAX_FILE_BYTES = 200_000_000  # a data file larger than this is not read by a request


def data_folders(config: dict[str, Any]) -> list[Path]:
    """The real paths of the folders whose CSV files requests may name."""
    test = config["test_data_path"]
    folders = [config["input_folder_path"], config["output_folder_path"]]
    folders.append(test if test.is_dir() else test.parent)
    return [folder.resolve() for folder in folders]


def check_given_path(given: str) -> Path:
    """The relative path a request names, checked as text; ApiError before any file access."""
    if not given or "\x00" in given:
        raise ApiError(400, "filepath: empty or invalid")
    if len(given) > MAX_PATH_CHARS:
        raise ApiError(400, f"filepath: longer than {MAX_PATH_CHARS} characters")
    rel = Path(given)
    if any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in rel.parts):
        raise ApiError(400, f"filepath: a name longer than {MAX_NAME_BYTES} bytes")
    if rel.is_absolute() or ".." in rel.parts:
        raise ApiError(403, f"filepath {given!r}: only paths inside the data folders are allowed")
    if rel.suffix.lower() != ".csv":
        raise ApiError(400, f"filepath {given!r}: only .csv files can be scored")
    return rel


def open_checked(path: Path, given: str, folders: list[Path]) -> int:
    """A descriptor of path, opened first and then checked: a regular file with one link,
    whose real path lies inside a data folder. The final name is never a symlink."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ApiError(404, f"filepath {given!r}: file not found") from None
    except OSError as exc:  # ELOOP: a symlink; ENOTDIR, EACCES, ENAMETOOLONG
        status = 403 if exc.errno in (errno.ELOOP, errno.EACCES) else 400
        raise ApiError(status, f"filepath {given!r}: cannot open ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if not any(real.is_relative_to(folder) for folder in folders):
            raise ApiError(403, f"filepath {given!r}: only paths inside the data folders allowed")
        if not stat.S_ISREG(info.st_mode):
            raise ApiError(400, f"filepath {given!r}: not a regular file")
        if info.st_nlink != 1:
            raise ApiError(403, f"filepath {given!r}: a file with other (hard) links is refused")
        if info.st_size > MAX_FILE_BYTES:
            raise ApiError(413, f"filepath {given!r}: larger than {MAX_FILE_BYTES} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_data_file(config: dict[str, Any], given: str) -> bytes:
    """The bytes of an allowed data file, read from the descriptor that was checked."""
    rel = check_given_path(given)
    fd = open_checked(config["config_file"].parent / rel, given, data_folders(config))
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def request_rows(max_rows: int) -> tuple:
    """(ids, matrix) of an MLflow scoring request (JSON or CSV)."""
    mime = check_content_type(request.content_type)
    raw = request.get_data(cache=False)
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
    raw = request.get_data(cache=False)
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


def predict(model, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(0/1 predictions, exit probabilities) of the rows of matrix (FEATURES order)."""
    frame = pd.DataFrame(matrix, columns=FEATURES, copy=False)
    proba = model.predict_proba(frame)[:, 1]
    return model.predict(frame).astype(int), proba


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
        model, manifest = models.get()
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
        model, _ = models.get()
        _, matrix = request_rows(int(config["api"]["max_rows"]))
        return jsonify(predictions=predict(model, matrix)[0].tolist())

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


def strip_paths(message: str) -> str:
    """A message with server folders shortened to file names (no layout leaks)."""
    words = [
        Path(w).name + (":" if w.endswith(":") else "") if w.startswith("/") else w
        for w in message.split(" ")
    ]
    return " ".join(words)


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
