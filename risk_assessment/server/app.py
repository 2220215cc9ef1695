"""The logic under app.py: the Flask app factory (create_app), the API's views and error
answers.

What it reads and writes, and the command: the docstring of app.py.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from risk_assessment.core.common import FINALDATA, DataError, ModelError

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from risk_assessment.core.settings import load_config
from risk_assessment.modelling.scoring import score_model, test_data_file
from risk_assessment.reports import diagnostics
from risk_assessment.schema import dataset
from risk_assessment.server import admin, auth, contacts, dashboard, readers, signin
from risk_assessment.server.inputs import page_args, prediction_rows, request_rows
from risk_assessment.server.metrics import Metrics
from risk_assessment.server.openapi import openapi_spec
from risk_assessment.server.protocol import (
    STATUS_CODES,
    ApiError,
)
from risk_assessment.server.serving import (
    STATE_KEY,
    ApiState,
    DatasetCache,
    ModelHolder,
    predict,
    state,
    strip_paths,
)
from risk_assessment.server.urls import ClientId
from risk_assessment.store import lookups
from risk_assessment.store import records as store

log = logging.getLogger("app")


def observations_cache(folder: Path, schema) -> DatasetCache:
    """Every stored observation (labelled or not) in order of arrival, from the store."""
    db = store.store_path(folder)

    def load(_path: Path):
        return dataset.observations_frame(store.all_observations(folder, schema), schema)

    return DatasetCache(db, "run ingestion.py", load, also=(db.with_name(db.name + "-wal"),))


def max_request_rows() -> int:
    """The most rows one request body may hold (api.max_rows)."""
    return int(state().config["api"]["max_rows"])


def scores_for(api: ApiState) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics on the test data, manifest) of the model being served, memoized."""
    model, manifest = api.models.get()
    scores = api.testdata.get(
        "scores", lambda d: score_model(model, d, api.config["schema"]), manifest["model_sha256"]
    )
    return scores, manifest


# ---- the API's routes ------------------------------------------------------------------------

bp = Blueprint("api", __name__)


@bp.route("/prediction", methods=["GET", "POST"])
def prediction():
    """Predictions for a data file (paged), records or a CSV body."""
    model, manifest = state().models.predictor()
    (ids, frame), paging = prediction_rows(state().config)
    total, offset = len(frame), 0
    if paging is not None:
        offset, limit = page_args(paging, max_request_rows())
        ids = ids[offset : offset + limit] if ids is not None else None
        frame = frame.iloc[offset : offset + limit]
    preds, proba = predict(model, frame) if len(frame) else ([], [])
    pairs = zip(preds, proba, strict=True)
    rows = [{"prediction": int(p), "probability": float(q)} for p, q in pairs]
    if ids is not None:
        id_column = state().config["schema"].id
        rows = [{id_column: i, **r} for i, r in zip(ids, rows, strict=True)]
    answer = {"model_version": manifest["version"], "rows": len(rows), "predictions": rows}
    if paging is not None:
        end = offset + len(rows)
        answer.update(total=total, offset=offset, next_offset=end if end < total else None)
    return jsonify(answer)


@bp.post("/invocations")
def invocations():
    """MLflow's scoring protocol: 0/1 per row."""
    model, _ = state().models.predictor()
    _, frame = request_rows(max_request_rows())
    return jsonify(predictions=predict(model, frame, proba=False)[0].tolist())


@bp.get("/scoring")
def scoring_route():
    """The served model's metrics on the test data."""
    scores, manifest = scores_for(state())
    path = test_data_file(state().config["test_data_path"])
    return jsonify(model_version=manifest["version"], test_data=path.name, **scores)


@bp.get("/summarystats")
@bp.get("/summary")  # the original project's write-ups use both spellings
def summarystats():
    """Mean, median and standard deviation of each feature of finaldata."""
    finaldata = state().finaldata
    data = finaldata.get()
    schema = state().config["schema"]
    summary = finaldata.get("summary", lambda d: diagnostics.dataframe_summary(d, schema))
    try:  # the counts the dashboard and the PDF show (reports/numbers.py)
        counts = dashboard.week(state())["numbers"]
    except ApiError:  # no model served yet: the list's counts do not exist
        counts = None
    rejected = list(lookups.rejections_by_batch(state().config["output_folder_path"]).values())
    return jsonify(rows=len(data), summary=summary, counts=counts, rejected=rejected)


@bp.get("/diagnostics")
def diagnostics_route():
    """Missing data, recorded timings and the cached dependency table."""
    config = state().config
    missing = state().finaldata.get("missing", diagnostics.missing_data)
    deps = diagnostics.read_cached_dependencies(
        config["output_model_path"] / diagnostics.DEPENDENCIES_CACHE
    )
    return jsonify(
        missing_data=missing,
        execution_time=diagnostics.recorded_timings(config),
        dependencies=deps or {"packages": [], "note": "not checked yet: run diagnostics.py"},
    )


@bp.get("/ping")
def ping():
    """MLflow's liveness check: 200 once a model is served."""
    state().models.get()
    return Response("\n", mimetype="application/json")


@bp.get("/health")
def health():
    """Liveness, the served version and the last reload's error (503 without a model)."""
    models = state().models
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


@bp.get("/openapi.json")
def openapi_json():
    """This API's OpenAPI description."""
    return jsonify(state().spec)


@bp.get("/metrics")
def metrics_route():
    """Prometheus metrics of every worker."""
    try:
        state().models.get()  # so the served model shows even before the first prediction
    except ApiError:
        pass
    body, content_type = state().metrics.exposition()
    return Response(body, content_type=content_type)


@bp.get("/version")
def version():
    """The served version, its sha256 and the F1 recorded when it was deployed."""
    _, manifest = state().models.get()
    return jsonify(
        model_version=manifest["version"],
        model_sha256=manifest["model_sha256"],
        deployed_at=manifest["deployed_at"],
        f1=manifest["f1"],
    )


# ---- every request counted, every error as JSON ----------------------------------------------


CONVERTER = re.compile(r"<\w+:")  # <client:corporation> -> <corporation>


def start_clock() -> None:
    """Note when the request started (for its latency)."""
    g.started = time.perf_counter()


def count_request(response: Response) -> Response:
    """Count the request and its time per endpoint (the route's rule, not the raw path,
    without its converters: /risk/<corporation>)."""
    rule = CONVERTER.sub("<", request.url_rule.rule) if request.url_rule else "unmatched"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    state().metrics.observe(rule, request.method, response.status_code, elapsed)
    return response


def error_answer(status: int, message: str, code: str | None = None):
    """MLflow's error shape {"error_code", "message"}, plus "error" (the same message)."""
    code = code or STATUS_CODES.get(status, "BAD_REQUEST")
    return jsonify(error_code=code, message=message, error=message), status


def api_error(exc: ApiError):
    """An error the API raised on purpose, with its status and code."""
    return error_answer(exc.status, str(exc), exc.code)


def data_error(exc: DataError):
    """Data that cannot be read: a 400 naming the problem (without server folders)."""
    return error_answer(400, strip_paths(str(exc)), "INVALID_PARAMETER_VALUE")


def model_error(exc: ModelError):
    """A model that cannot be used: 503."""
    return error_answer(503, strip_paths(str(exc)))


def http_error(exc: HTTPException):
    """Flask's own errors (404, 405, 413, ...) in the same JSON shape, with their headers."""
    # a 404 on a known route is a missing resource (/risk/<unknown>); else the route is unknown
    code = "ENDPOINT_NOT_FOUND" if exc.code == 404 and not request.url_rule else None
    response, status = error_answer(exc.code or 500, f"{exc.name}: {exc.description}", code)
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def unexpected(exc: Exception):
    """Anything else: logged, answered 500 without details."""
    log.exception("unexpected error on %s", request.path)
    return error_answer(500, "internal error; see the server log")


ERROR_HANDLERS = (
    (ApiError, api_error),
    (DataError, data_error),
    (ModelError, model_error),
    (HTTPException, http_error),
    (Exception, unexpected),
)


def api_state(config: dict[str, Any]) -> ApiState:
    """The models, data caches, metrics and description every request shares."""
    schema = config["schema"]
    key = config["deployment"]["signing_key_path"]
    models = ModelHolder(config["prod_deployment_path"], key, schema)
    output = config["output_folder_path"]

    def load(path: Path):
        return dataset.load_dataset(path, schema)

    return ApiState(
        config=config,
        models=models,
        finaldata=DatasetCache(output / FINALDATA, "run ingestion.py", load),
        observations=observations_cache(output, schema),
        testdata=DatasetCache(
            test_data_file(config["test_data_path"]), "check test_data_path", load
        ),
        metrics=Metrics(models, output),
        spec=openapi_spec(int(config["api"]["max_rows"]), schema),
    )


def create_app(config: dict[str, Any] | str | Path | None = None) -> Flask:
    """Build the API from a loaded config, a config file path, or the default config."""
    if not isinstance(config, dict):
        config = load_config(config)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=int(config["api"]["max_request_bytes"]), JSON_SORT_KEYS=False
    )
    app.json.sort_keys = False
    app.extensions[STATE_KEY] = api_state(config)
    app.url_map.converters["client"] = ClientId  # a client id: any text, ends stripped
    # the API; managers' pages, /risk; contacts; sign-in; admins'; /calls and /model
    for blueprint in (bp, dashboard.bp, contacts.bp, signin.bp, admin.bp, readers.bp):
        app.register_blueprint(blueprint)
    for kind, handler in ERROR_HANDLERS:
        app.register_error_handler(kind, handler)
    app.before_request(start_clock)
    auth.install(app, config)  # who may see and change what (before every view)
    app.after_request(count_request)
    return app
