"""HTTP API over the deployed model and the diagnostics. Every answer is JSON.

Reads   the deployed model (prod_deployment_path/current), finaldata.csv, the test data,
        the recorded timings and the cached dependency table
Run     python app.py [--config config.json]          development server, 127.0.0.1:8000
        gunicorn --bind 127.0.0.1:8000 wsgi:app        production (see README)
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from common import (
    FEATURES,
    FINALDATA,
    ID_COLUMN,
    DataError,
    ModelError,
    RiskError,
    cli_parser,
    load_config,
    run_cli,
)

import pandas as pd
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

import dashboard
import dataset
import diagnostics
import store
from deployment import CURRENT, load_deployed
from scoring import score_model, test_data_file

log = logging.getLogger("app")


class ApiError(Exception):
    """An error answer: HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelHolder:
    """The deployed model, loaded lazily, reloaded when `current` changes.

    If a newly deployed model fails verification, the last good one keeps serving and
    the failure is reported by /health.
    """

    def __init__(self, prod: Path):
        self.prod = prod
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
                    self.model, self.manifest = load_deployed(self.prod)
                    self.error = None
                    log.info("serving model %s", self.manifest["version"])
                except RiskError as exc:
                    self.error = strip_paths(str(exc))  # answers never show server folders
                    log.error("%s", exc)
            if self.model is None:
                raise ApiError(503, self.error or "no deployed model")
            return self.model, self.manifest


def safe_data_path(config: dict[str, Any], given: str) -> Path:
    """The file `given` names, if it lies inside a configured data folder; else ApiError.

    Relative paths are taken from the config file's folder. Absolute paths, '..',
    and symlinks leading out of the data folders are refused.
    """
    if not given or "\x00" in given:
        raise ApiError(400, "filepath: empty or invalid")
    rel = Path(given)
    if rel.is_absolute() or ".." in rel.parts:
        raise ApiError(403, f"filepath {given!r}: only paths inside the data folders are allowed")
    if rel.suffix.lower() != ".csv":
        raise ApiError(400, f"filepath {given!r}: only .csv files can be scored")
    path = (config["config_file"].parent / rel).resolve()
    folders = [
        config["input_folder_path"],
        config["output_folder_path"],
        config["test_data_path"]
        if config["test_data_path"].is_dir()
        else config["test_data_path"].parent,
    ]
    if not any(path.is_relative_to(folder.resolve()) for folder in folders):
        raise ApiError(403, f"filepath {given!r}: only paths inside the data folders are allowed")
    if not path.is_file():
        raise ApiError(404, f"filepath {given!r}: file not found")
    return path


def records_frame(records: Any) -> pd.DataFrame:
    """A DataFrame from a JSON list of objects; ApiError 400 otherwise."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "records: must be a list of objects")
    if not records:
        raise ApiError(400, "records: empty list")
    return pd.DataFrame.from_records(records)


def csv_frame(body: bytes, source: str) -> pd.DataFrame:
    """A DataFrame from a CSV request body (features required, corporation optional)."""
    return dataset.parse_csv(body, source, FEATURES, optional=(ID_COLUMN,))


def json_body() -> Any:
    """The request's JSON body; ApiError 400 when it is not valid JSON."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "request body: not valid JSON")
    return data


def prediction_input(config: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    """The rows to predict for this request, and a name for them in messages."""
    if request.method == "GET":
        given = request.args.get("filename") or request.args.get("filepath")
        if not given:
            raise ApiError(400, "query parameter filename is required")
        return read_data_file(config, given), given
    if request.mimetype == "text/csv":
        return csv_frame(request.get_data(), "CSV body"), "CSV body"
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "request body: must be a JSON object")
    if "records" in body:
        return records_frame(body["records"]), "records"
    if "filepath" in body:
        if not isinstance(body["filepath"], str):
            raise ApiError(400, "filepath: must be a string")
        return read_data_file(config, body["filepath"]), body["filepath"]
    raise ApiError(400, "request body: give 'filepath' or 'records' (or send text/csv)")


def read_data_file(config: dict[str, Any], given: str) -> pd.DataFrame:
    """The features (and ids) of an allowed data file; messages use the name given."""
    path = safe_data_path(config, given)
    try:
        return dataset.read_raw_csv(path, FEATURES, optional=(ID_COLUMN,))
    except DataError as exc:
        raise DataError(str(exc).replace(str(path), given)) from None


def invocation_input() -> pd.DataFrame:
    """Rows from an MLflow scoring request: dataframe_split, dataframe_records or CSV."""
    if request.mimetype == "text/csv":
        return csv_frame(request.get_data(), "CSV body")
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "request body: must be a JSON object")
    if "dataframe_records" in body:
        return records_frame(body["dataframe_records"])
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, dict) or not isinstance(split.get("data"), list):
            raise ApiError(400, "dataframe_split: needs 'columns' and 'data' lists")
        try:
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, f"dataframe_split: {exc}") from None
    raise ApiError(
        400, "request body: give dataframe_split or dataframe_records (or send text/csv)"
    )


class DatasetCache:
    """A data set, reloaded only when its files change, with values derived from it.

    Requests read the observations and the test data many times between (rare) changes;
    loading a million rows takes seconds, a cache hit microseconds.
    """

    def __init__(self, path: Path, hint: str, load=None, also: tuple[Path, ...] = ()):
        self.path, self.hint, self.also = path, hint, also
        self.load = load or dataset.load_dataset
        self.lock = threading.Lock()
        self.key, self.data, self.derived = None, None, {}

    def version(self) -> tuple:
        """What identifies the current content: mtime and size of each file."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise ApiError(503, f"{self.path.name} not found; {self.hint}") from None
        others = [
            (p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None for p in self.also
        ]
        return (stat.st_mtime_ns, stat.st_size, *others)

    def get(self, name: str | None = None, compute=None, extra: Any = None):
        """The data, or compute(data) memoized under (name, extra) for this file version."""
        key = self.version()
        with self.lock:
            if key != self.key:
                self.data, self.derived, self.key = self.load(self.path), {}, key
            if name is None:
                return self.data
            if (name, extra) not in self.derived:
                self.derived[(name, extra)] = compute(self.data)
            return self.derived[(name, extra)]


def observations_cache(folder: Path) -> DatasetCache:
    """Every stored observation (labelled or not) in order of arrival, from the store."""
    db = store.store_path(folder)

    def load(_path: Path):
        return dataset.observations_frame(store.all_observations(folder))

    return DatasetCache(db, "run ingestion.py", load, also=(db.with_name(db.name + "-wal"),))


def scores_for(ext: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics on the test data, manifest) of the model being served, memoized."""
    model, manifest = ext["models"].get()
    scores = ext["testdata"].get(
        "scores", lambda d: score_model(model, d), manifest["model_sha256"]
    )
    return scores, manifest


def register_routes(app: Flask, config: dict[str, Any], models: ModelHolder) -> None:
    """The API's routes."""

    @app.route("/prediction", methods=["GET", "POST"])
    def prediction():
        model, manifest = models.get()
        data, source = prediction_input(config)
        preds = diagnostics.model_predictions(data, model, source)
        return jsonify(
            model_version=manifest["version"],
            rows=len(preds),
            predictions=preds.to_dict(orient="records"),
        )

    @app.post("/invocations")
    def invocations():
        model, _ = models.get()
        preds = diagnostics.model_predictions(invocation_input(), model, "request")
        return jsonify(predictions=preds["prediction"].tolist())

    @app.get("/scoring")
    def scoring_route():
        scores, manifest = scores_for(app.extensions["risk"])
        path = test_data_file(config["test_data_path"])
        return jsonify(model_version=manifest["version"], test_data=path.name, **scores)

    @app.get("/summarystats")
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

    @app.get("/ping")
    def ping():
        models.get()
        return Response("\n", mimetype="application/json")

    @app.get("/health")
    def health():
        try:
            _, manifest = models.get()
        except ApiError as exc:
            return jsonify(status="unavailable", error=str(exc)), 503
        return jsonify(
            status="ok",
            model_version=manifest["version"],
            deployed_at=manifest["deployed_at"],
            reload_error=models.error,
        )

    @app.get("/version")
    def version():
        _, manifest = models.get()
        return jsonify(
            model_version=manifest["version"],
            model_sha256=manifest["model_sha256"],
            deployed_at=manifest["deployed_at"],
            f1=manifest["f1"],
        )


def register_errors(app: Flask) -> None:
    """Every error becomes JSON {"error": "..."} with the right status."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        return jsonify(error=strip_paths(str(exc))), 400

    @app.errorhandler(ModelError)
    def model_error(exc: ModelError):
        return jsonify(error=strip_paths(str(exc))), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=f"{exc.name}: {exc.description}"), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        return jsonify(error="internal error; see the server log"), 500


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
    models = ModelHolder(config["prod_deployment_path"])
    app.extensions["risk"] = {
        "config": config,
        "models": models,
        "finaldata": DatasetCache(config["output_folder_path"] / FINALDATA, "run ingestion.py"),
        "observations": observations_cache(config["output_folder_path"]),
        "testdata": DatasetCache(test_data_file(config["test_data_path"]), "check test_data_path"),
    }
    register_routes(app, config, models)
    dashboard.register(app)  # the client managers' pages and /risk
    register_errors(app)
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
