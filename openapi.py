"""The API's machine-readable description (OpenAPI 3.0), served at GET /openapi.json.

Built in code from the same constants the server enforces (features, bounds, row cap),
so the description cannot drift from them. tests/test_openapi.py validates it, and a
schemathesis run (make test-slow) checks the server against it.
"""

from __future__ import annotations

from typing import Any

from common import FEATURES, ID_COLUMN

from protocol import FORMATS, MAX_ABS
from risk import CHANGES

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object schema with these properties, the required ones listed."""
    return {"type": "object", "required": required, "properties": properties}


def closed(required: list[str], **properties: Any) -> dict[str, Any]:
    """A request object that takes only these properties (an extra format key is a 400)."""
    return {**obj(required, **properties), "additionalProperties": False}


NUMBER = {"type": "number", "minimum": 0, "maximum": MAX_ABS}  # counts
NULLABLE_NUMBER = {"type": "number", "nullable": True}
# Query parameters of /risk and the dashboard: an empty value means the default.
TOP = r"^([1-9][0-9]{0,2}|1000)?$"
PAGE = r"^([1-9][0-9]{0,5}|1000000)?$"
BAND = {"type": "string", "enum": ["high", "medium", "low", ""]}
SORTS = ["", "rank", "-rank", "client", "change"]  # dashboard.SORTS
# A dict of columns must have columns of equal length: described with one row each.
COLUMNS = {f: {"type": "array", "items": NUMBER, "minItems": 1, "maxItems": 1} for f in FEATURES}
COLUMNS[ID_COLUMN] = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1}
# File names the description promises to take (the server takes any name, but these never
# hit a file-system limit): relative, plain characters, .csv
FILE_NAME = {"type": "string", "pattern": r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,60}/){0,3}\w+\.csv$"}
CSV_BODY = {
    "type": "string",
    "pattern": "^" + ",".join(FEATURES) + r"\n([0-9]{1,9},[0-9]{1,9},[0-9]{1,9}\n){1,20}$",
    "description": "a header row with the features (and optionally corporation), then rows",
}


def one_format(key: str, schema: dict, params: dict) -> dict[str, Any]:
    """An MLflow request with this format key and none of the others (other keys ignored)."""
    others = [{"required": [k]} for k in FORMATS if k != key]
    return {**obj([key], **{key: schema, "params": params}), "not": {"anyOf": others}}


def schemas(max_rows: int) -> dict[str, Any]:
    """The component schemas: inputs, answers and the error."""
    record = obj(FEATURES, **{f: NUMBER for f in FEATURES}, **{ID_COLUMN: {"type": "string"}})
    records = {"type": "array", "items": ref("Record"), "minItems": 1, "maxItems": max_rows}
    row = {"type": "array", "items": NUMBER, "minItems": 3, "maxItems": 3}
    rows = {"type": "array", "items": row, "minItems": 1, "maxItems": max_rows}
    tensor = {"oneOf": [records, rows, obj(FEATURES, **COLUMNS)]}
    split = obj(
        ["data"],
        columns={
            "type": "array",
            "nullable": True,
            "description": "default: the features in their usual order",
            "items": {"type": "string", "enum": FEATURES},
            "minItems": 3,
            "maxItems": 3,
            "uniqueItems": True,
        },
        data=rows,
        index={"type": "array", "nullable": True, "description": "ignored"},
    )
    params = {
        "type": "object",
        "nullable": True,
        "description": "accepted and ignored (the model takes none)",
    }
    mlflow = {
        "oneOf": [
            one_format("dataframe_split", split, params),
            one_format("dataframe_records", records, params),
            one_format("instances", tensor, params),
            one_format("inputs", tensor, params),
        ],
        "description": "exactly one of dataframe_split, dataframe_records, instances, inputs",
    }
    prediction = obj(
        ["prediction", "probability"],
        prediction={"type": "integer", "enum": [0, 1]},
        probability={"type": "number", "minimum": 0, "maximum": 1},
        **{ID_COLUMN: {"type": "string"}},
    )
    page = {"type": "integer", "nullable": True}
    stats = obj(
        ["mean", "median", "std"], mean=NULLABLE_NUMBER, median=NULLABLE_NUMBER, std=NULLABLE_NUMBER
    )
    confusion = obj(
        ["tn", "fp", "fn", "tp"], **{k: {"type": "integer"} for k in ("tn", "fp", "fn", "tp")}
    )
    client = obj(
        [ID_COLUMN, "exit_probability", "rank", "risk_band", "reasons", "contributions"],
        **{ID_COLUMN: {"type": "string"}},
        exit_probability={"type": "number"},
        rank={"type": "integer"},
        risk_band={"type": "string", "enum": ["high", "medium", "low"]},
        reasons={
            "type": "array",
            "items": obj(
                ["feature", "contribution"],
                feature={"type": "string"},
                contribution={"type": "number"},
            ),
        },
        contributions={"type": "object", "additionalProperties": {"type": "number"}},
    )
    text = {"type": "string"}
    return {
        "Record": record,
        "MlflowRequest": mlflow,
        "FileRequest": closed(
            ["filepath"],
            filepath=FILE_NAME,
            offset={"type": "integer", "minimum": 0},
            limit={"type": "integer", "minimum": 1, "maximum": max_rows},
        ),
        "RecordsRequest": closed(["records"], records=records),
        "Predictions": obj(
            ["model_version", "rows", "predictions"],
            model_version=text,
            rows={"type": "integer"},
            predictions={"type": "array", "items": prediction},
            total={"type": "integer"},
            offset={"type": "integer"},
            next_offset=page,
        ),
        "MlflowPredictions": obj(
            ["predictions"],
            predictions={"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
        ),
        "Scores": obj(
            ["model_version", "f1", "precision", "recall", "roc_auc", "accuracy", "rows"],
            model_version=text,
            test_data=text,
            f1={"type": "number"},
            precision={"type": "number"},
            recall={"type": "number"},
            roc_auc=NULLABLE_NUMBER,
            accuracy={"type": "number"},
            rows={"type": "integer"},
            positives={"type": "integer"},
            confusion_matrix=confusion,
        ),
        "Summary": obj(
            ["rows", "summary"],
            rows={"type": "integer"},
            summary={"type": "object", "additionalProperties": stats},
        ),
        "Diagnostics": obj(
            ["missing_data", "execution_time", "dependencies"],
            missing_data={"type": "object"},
            execution_time={"type": "object"},
            dependencies={"type": "object"},
        ),
        "RiskPage": obj(
            ["model_version", "total", "page", "top", "band", "clients"],
            model_version=text,
            total={"type": "integer"},
            page={"type": "integer"},
            top={"type": "integer"},
            band={"type": "string", "nullable": True},
            clients={"type": "array", "items": client},
        ),
        "RiskClient": {"allOf": [client, obj(["model_version"], model_version=text)]},
        "Health": obj(
            ["status", "model_version", "deployed_at"],
            status=text,
            model_version=text,
            deployed_at=text,
            reload_error={"type": "string", "nullable": True},
        ),
        "Version": obj(
            ["model_version", "model_sha256", "deployed_at", "f1"],
            model_version=text,
            model_sha256=text,
            deployed_at=text,
            f1={"type": "number"},
        ),
        "Error": obj(["error_code", "message", "error"], error_code=text, message=text, error=text),
    }


def answer(description: str, schema: str | None = None, media: str = JSON) -> dict:
    """A response with a description and (optionally) a schema."""
    content = {media: {"schema": ref(schema)} if schema else {"schema": {"type": "string"}}}
    return {"description": description, "content": content}


ERRORS = {
    400: "bad request: malformed body, bad value (the message names the field)",
    403: "the file lies outside the data folders, or is a link",
    404: "not found",
    408: "the body did not arrive within the server's read timeout",
    413: "body over api.max_request_bytes, or more rows than api.max_rows",
    415: "content type other than application/json or text/csv, or a charset other than utf-8",
    503: "no verified model deployed, or the server's data is missing",
}


def errors(*statuses: int) -> dict[str, Any]:
    """Error responses for these statuses, all in the Error shape."""
    return {str(s): answer(ERRORS[s], "Error") for s in statuses}


def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def body(*schemas_: str, csv: bool = True) -> dict[str, Any]:
    """A required request body: JSON of one of these schemas, or (optionally) CSV."""
    json_schema = ref(schemas_[0]) if len(schemas_) == 1 else {"oneOf": [ref(s) for s in schemas_]}
    content = {JSON: {"schema": json_schema}}
    if csv:
        content["text/csv"] = {"schema": CSV_BODY}
    return {"required": True, "content": content}


def get(summary: str, schema: str, *codes: int, **extra: Any) -> dict[str, Any]:
    """A GET operation answering 200 with schema, or one of the error codes."""
    responses = {"200": answer(summary, schema), **errors(*codes)}
    return {"get": {"summary": summary, "responses": responses, **extra}}


def list_filters() -> list[dict[str, Any]]:
    """The risk list's filter and order, shared by /risk and the dashboard."""
    return [
        query("q", {"type": "string"}, "part of a client id, any case"),
        query("band", BAND, "band; empty: all"),
        query("change", {"type": "string", "enum": ["", *CHANGES]}, "what changed; empty: all"),
        query("sort", {"type": "string", "enum": SORTS}, "order (rank)"),
    ]


def paths(max_rows: int) -> dict[str, Any]:
    """Every endpoint, its inputs and its answers."""
    page = [
        query("offset", {"type": "integer", "minimum": 0}, "first row of the page"),
        query("limit", {"type": "integer", "minimum": 1, "maximum": max_rows}, "rows per page"),
    ]
    filename = query(
        "filename",
        FILE_NAME,
        "CSV file relative to the config's folder, inside a data folder",
        True,
    )
    predicted = answer("predictions, one per row, in order", "Predictions")
    return {
        "/prediction": {
            "get": {
                "summary": "predictions for a data file (paged)",
                "parameters": [filename, *page],
                "responses": {"200": predicted, **errors(400, 403, 404, 413, 503)},
            },
            "post": {
                "summary": "predictions for a data file, records, or a CSV body",
                "requestBody": body("FileRequest", "RecordsRequest"),
                "responses": {"200": predicted, **errors(400, 403, 404, 408, 413, 415, 503)},
            },
        },
        "/invocations": {
            "post": {
                "summary": "MLflow scoring protocol",
                "requestBody": body("MlflowRequest"),
                "responses": {
                    "200": answer("0/1 per row", "MlflowPredictions"),
                    **errors(400, 408, 413, 415, 503),
                },
            },
        },
        "/scoring": get("the served model's metrics on the test data", "Scores", 503),
        "/summarystats": get("mean, median, std of each feature", "Summary", 503),
        "/summary": get(
            "mean, median, std of each feature",
            "Summary",
            503,
            description="the original project's other spelling: answers as /summarystats",
        ),
        "/diagnostics": get("missing data, timings, dependencies", "Diagnostics", 503),
        "/risk": {
            "get": {
                "summary": "the risk list of current clients, paged; format=csv: the filtered "
                "list as a spreadsheet-safe CSV download",
                "parameters": [
                    query("top", {"type": "string", "pattern": TOP}, "per page, 1-1000 (50)"),
                    query("page", {"type": "string", "pattern": PAGE}, "page, from 1 (1)"),
                    *list_filters(),
                    query("format", {"type": "string"}, "csv: a CSV download; else JSON"),
                ],
                "responses": {
                    "200": {
                        "description": "the page (JSON) or every matching row (CSV)",
                        "content": {
                            JSON: {"schema": ref("RiskPage")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **errors(400, 503),
                },
            }
        },
        "/risk/{corporation}": get(
            "one client with its reasons",
            "RiskClient",
            404,
            503,
            parameters=[
                {
                    "name": "corporation",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
        ),
        "/health": get("liveness and the served version", "Health", 503),
        "/version": get("served version, its sha256 and F1", "Version", 503),
        "/ping": {
            "get": {
                "summary": "MLflow liveness",
                "responses": {
                    "200": {"description": "alive", "content": {JSON: {}}},
                    **errors(503),
                },
            }
        },
        "/": {
            "get": {
                "summary": "the dashboard",
                "parameters": [
                    *list_filters(),
                    query("page", {"type": "string", "pattern": PAGE}, "page, from 1 (1)"),
                ],
                "responses": {"200": answer("HTML page", None, "text/html"), **errors(400, 503)},
            }
        },
        "/client/{corporation}": {
            "get": {
                "summary": "one client's page: observations, scores, reasons",
                "parameters": [
                    {
                        "name": "corporation",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": answer("HTML page", None, "text/html"), **errors(404, 503)},
            }
        },
        "/runs": {
            "get": {
                "summary": "the run history of fullprocess",
                "responses": {"200": answer("HTML page", None, "text/html"), **errors(503)},
            }
        },
        "/report.pdf": {
            "get": {
                "summary": "the PDF report of the served model",
                "responses": {"200": answer("PDF", None, "application/pdf"), **errors(404, 503)},
            }
        },
        "/confusionmatrix.png": {
            "get": {
                "summary": "the confusion matrix plot",
                "responses": {"200": answer("PNG", None, "image/png"), **errors(404, 503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": answer("Prometheus text format", None, "text/plain")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "this description",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.0",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def openapi_spec(max_rows: int) -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Dynamic Risk Assessment API",
            "version": "1",
            "description": "Attrition-risk model server: MLflow's scoring protocol on "
            "/invocations, the project's own endpoints, diagnostics and metrics. "
            f"Numbers beyond +-2**53 are refused; at most {max_rows} rows per request.",
        },
        "paths": paths(max_rows),
        "components": {"schemas": schemas(max_rows)},
    }
