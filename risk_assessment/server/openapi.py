"""The API's machine-readable description (OpenAPI 3.0), served at GET /openapi.json.

Built in code from the same definitions the server enforces (the schema's features with
their types, bounds, levels and labels; the row cap), so the description cannot drift
from them. The paths are here, one function per group of
endpoints; the component schemas are in openapi_schemas.py. tests/test_openapi.py
validates it, and a schemathesis run (make test-slow) checks the server against it.
"""

from __future__ import annotations

from typing import Any

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.reports.risk import CHANGES
from risk_assessment.server.openapi_access import (
    SECURITY_SCHEMES,
    UNAUTHENTICATED,
    access_paths,
    access_schemas,
)
from risk_assessment.server.openapi_schemas import FILE_NAME, ref, schemas

JSON = "application/json"
# Query parameters of /risk and the dashboard: an empty value means the default.
TOP = r"^([1-9][0-9]{0,2}|1000)?$"
PAGE = r"^([1-9][0-9]{0,5}|1000000)?$"
BAND = {"type": "string", "enum": ["high", "medium", "low", ""]}
SORTS = ["", "rank", "-rank", "client", "change", "value"]  # dashboard.SORTS


def csv_body(schema: ColumnSchema) -> dict[str, Any]:
    """A CSV body: the features' header, then rows (digits when every feature is a count)."""
    counts = all(f.type == "integer" and (f.min or 0) >= 0 for f in schema.features)
    cell = "[0-9]{1,9}" if counts else "[^,\\n]*"
    row = ",".join([cell] * len(schema.features))
    return {
        "type": "string",
        "pattern": "^" + ",".join(schema.feature_names) + r"\n(" + row + r"\n){1,20}$",
        "description": f"a header row with the features (and optionally {schema.id}), then rows",
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


def body(*schemas_: str, csv: dict | None = None) -> dict[str, Any]:
    """A required request body: JSON of one of these schemas, or (optionally) CSV."""
    json_schema = ref(schemas_[0]) if len(schemas_) == 1 else {"oneOf": [ref(s) for s in schemas_]}
    content = {JSON: {"schema": json_schema}}
    if csv:
        content["text/csv"] = {"schema": csv}
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
        query("order", {"type": "string", "enum": SORTS}, "as sort, when it is not given"),
    ]


def operation(summary: str, responses: dict, parameters: list | None = None) -> dict:
    """A GET operation with a summary, its parameters (if any) and its responses."""
    params = {"parameters": parameters} if parameters is not None else {}
    return {"get": {"summary": summary, **params, "responses": responses}}


def file_get(summary: str, description: str, media: str, *codes: int, **extra: Any) -> dict:
    """A GET answering 200 with a non-JSON body (a page, a file), or an error."""
    return operation(summary, {"200": answer(description, None, media), **errors(*codes)}, **extra)


def corporation() -> dict[str, Any]:
    """The client id in the path of /risk/{corporation} and /client/{corporation}."""
    return {"name": "corporation", "in": "path", "required": True, "schema": {"type": "string"}}


def prediction_paths(max_rows: int, schema: ColumnSchema) -> dict[str, Any]:
    """/prediction (a file, paged; records; CSV) and /invocations (MLflow)."""
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
    post = {
        "summary": "predictions for a data file, records, or a CSV body",
        "requestBody": body("FileRequest", "RecordsRequest", csv=csv_body(schema)),
        "responses": {"200": predicted, **errors(400, 403, 404, 408, 413, 415, 503)},
    }
    invocations = {
        "summary": "MLflow scoring protocol",
        "requestBody": body("MlflowRequest", csv=csv_body(schema)),
        "responses": {
            "200": answer("0/1 per row", "MlflowPredictions"),
            **errors(400, 408, 413, 415, 503),
        },
    }
    return {
        "/prediction": {
            **operation(
                "predictions for a data file (paged)",
                {"200": predicted, **errors(400, 403, 404, 413, 503)},
                [filename, *page],
            ),
            "post": post,
        },
        "/invocations": {"post": invocations},
    }


def data_paths() -> dict[str, Any]:
    """/scoring, /summarystats (and /summary), /diagnostics."""
    return {
        "/scoring": get("the served model's metrics on the test data", "Scores", 503),
        "/summarystats": get("mean, median, std of each feature", "Summary", 503),
        "/summary": get(
            "mean, median, std of each feature",
            "Summary",
            503,
            description="the original project's other spelling: answers as /summarystats",
        ),
        "/diagnostics": get("missing data, timings, dependencies", "Diagnostics", 503),
    }


def risk_paths() -> dict[str, Any]:
    """/risk (JSON or CSV) and /risk/{corporation}."""
    listed = {
        "description": "the page (JSON) or every matching row (CSV)",
        "content": {
            JSON: {"schema": ref("RiskPage")},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
    calls_answer = {
        "description": "this week's calls (JSON) or the same as CSV",
        "content": {JSON: {"schema": ref("Calls")}, "text/csv": {"schema": {"type": "string"}}},
    }
    parameters = [
        query("top", {"type": "string", "pattern": TOP}, "per page, 1-1000 (50)"),
        query("page", {"type": "string", "pattern": PAGE}, "page, from 1 (1)"),
        *list_filters(),
        query("format", {"type": "string"}, "csv: a CSV download; else JSON"),
    ]
    return {
        "/risk": operation(
            "the risk list of current clients, paged; format=csv: the filtered "
            "list as a spreadsheet-safe CSV download",
            {"200": listed, **errors(400, 503)},
            parameters,
        ),
        "/risk/{corporation}": get(
            "one client with its reasons", "RiskClient", 404, 503, parameters=[corporation()]
        ),
        "/calls": operation(
            "this week's calls: the risk.calls_per_week current clients at the top of the "
            "list (by value at risk when the schema has a value column); format=csv: a CSV",
            {"200": calls_answer, **errors(503)},
            [query("format", {"type": "string"}, "csv: a CSV download; else JSON")],
        ),
    }


def status_paths() -> dict[str, Any]:
    """/health, /version and MLflow's /ping."""
    alive = {"description": "alive", "content": {JSON: {}}}
    return {
        "/health": get("liveness and the served version", "Health", 503),
        "/version": get("served version, its sha256 and F1", "Version", 503),
        "/ping": operation("MLflow liveness", {"200": alive, **errors(503)}),
    }


def page_paths() -> dict[str, Any]:
    """The dashboard's pages and the files reporting.py wrote."""
    page = query("page", {"type": "string", "pattern": PAGE}, "page, from 1 (1)")
    html = "text/html"
    return {
        "/": file_get(
            "the dashboard", "HTML page", html, 400, 503, parameters=[*list_filters(), page]
        ),
        "/client/{corporation}": file_get(
            "one client's page: observations, scores, reasons",
            "HTML page",
            html,
            404,
            503,
            parameters=[corporation()],
        ),
        "/runs": file_get("the run history of fullprocess", "HTML page", html, 503),
        "/model": file_get(
            "the data scientist's page: effects, reliability, label-free estimate",
            "HTML page",
            html,
            503,
        ),
        "/report.pdf": file_get(
            "the PDF report of the served model", "PDF", "application/pdf", 404, 503
        ),
        "/confusionmatrix.png": file_get("the confusion matrix plot", "PNG", "image/png", 404, 503),
    }


def self_paths() -> dict[str, Any]:
    """/metrics and /openapi.json: the server describing itself."""
    described = {"description": "OpenAPI 3.0", "content": {JSON: {"schema": {"type": "object"}}}}
    return {
        "/metrics": file_get("Prometheus metrics", "Prometheus text format", "text/plain"),
        "/openapi.json": operation("this description", {"200": described}),
    }


OPEN = {"/health", "/ping", "/login"}  # answer without credentials, even with bad ones


def paths(max_rows: int, schema: ColumnSchema) -> dict[str, Any]:
    """Every endpoint, its inputs and its answers (401 on every route that needs a
    sign-in or a token once a user exists)."""
    found = {
        **prediction_paths(max_rows, schema),
        **data_paths(),
        **risk_paths(),
        **status_paths(),
        **page_paths(),
        **self_paths(),
        **access_paths(),
    }
    for path, operations in found.items():
        for op in operations.values():
            if path not in OPEN and isinstance(op, dict) and "responses" in op:
                op["responses"].setdefault("401", UNAUTHENTICATED)
    return found


def openapi_spec(max_rows: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
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
        "paths": paths(max_rows, schema),
        "components": {
            "schemas": {**schemas(max_rows, schema), **access_schemas()},
            "securitySchemes": SECURITY_SCHEMES,
        },
        # no user yet: open to loopback; else a token or a signed-in session (README)
        "security": [{}, {"bearer": []}, {"session": []}],
    }
