"""The component schemas of the API's description (openapi.py): inputs, answers, the error.

Built from the same definitions the server enforces: the schema's columns (each feature's
type, bounds, levels, label; config["schema"]), the bounds of cells.py, the row cap.
"""

from __future__ import annotations

import json
from typing import Any

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema, Feature
from risk_assessment.server.protocol import FORMATS, MAX_ABS


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object schema with these properties, the required ones listed."""
    return {"type": "object", "required": required, "properties": properties}


def closed(required: list[str], **properties: Any) -> dict[str, Any]:
    """A request object that takes only these properties (an extra format key is a 400)."""
    return {**obj(required, **properties), "additionalProperties": False}


NULLABLE_NUMBER = {"type": "number", "nullable": True}
TEXT = {"type": "string"}
# A client id, or a level of a category without declared levels: any text without control
# characters, up to 200 characters once spaces at its edges are stripped (as the server
# reads it: schema/cells.py), not only spaces
_CHAR, _EDGE = r"[^\x00-\x1f\x7f-\x9f]", r"[^\s\x00-\x1f\x7f-\x9f]"
TEXT_CELL = rf"^\s*{_EDGE}(?:{_CHAR}{{0,198}}{_EDGE})?\s*$"
WORDS = {"type": "string", "pattern": TEXT_CELL}
ID = {"type": "string", "pattern": TEXT_CELL}


def value_schema(feature: Feature) -> dict[str, Any]:
    """The JSON schema of one feature's value, from its type, bounds, levels and label."""
    out: dict[str, Any]
    if feature.numeric:
        low = -MAX_ABS if feature.min is None else feature.min
        high = MAX_ABS if feature.max is None else feature.max
        out = {"type": feature.type, "minimum": low, "maximum": high}
    elif feature.type == "boolean":
        out = {"type": "boolean"}
    else:
        out = {"type": "string", "enum": list(feature.levels)} if feature.levels else dict(WORDS)
    if not feature.required:
        out["nullable"] = True
    return {**out, "description": feature.words}


def columns_schema(schema: ColumnSchema) -> dict[str, Any]:
    """{column: [values]}: columns of equal length, described with one row each."""
    columns = {
        f.name: {"type": "array", "items": value_schema(f), "minItems": 1, "maxItems": 1}
        for f in schema.features
    }
    columns[schema.id] = {"type": "array", "items": ID, "minItems": 1, "maxItems": 1}
    return obj(required_features(schema), **columns)


def required_features(schema: ColumnSchema) -> list[str]:
    """The features a request must give (the others may be missing)."""
    return [f.name for f in schema.features if f.required]


# File names the description promises to take (the server takes any name, but these never
# hit a file-system limit): relative, plain characters, .csv
FILE_NAME = {"type": "string", "pattern": r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,60}/){0,3}\w+\.csv$"}


def one_format(key: str, schema: dict, params: dict) -> dict[str, Any]:
    """An MLflow request with this format key and none of the others (other keys ignored)."""
    others = [{"required": [k]} for k in FORMATS if k != key]
    return {**obj([key], **{key: schema, "params": params}), "not": {"anyOf": others}}


def mlflow_request(records: dict, rows: dict, schema: ColumnSchema) -> dict[str, Any]:
    """MLflow's request: exactly one of its four formats, each with ignored params."""
    tensor = {"oneOf": [records, rows, columns_schema(schema)]}
    n = len(schema.features)
    split = obj(
        ["data"],
        columns={
            "type": "array",
            "nullable": True,
            "description": "default: the features in their usual order",
            "items": {"type": "string", "enum": schema.feature_names},
            "minItems": n,
            "maxItems": n,
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
    return {
        "oneOf": [
            one_format("dataframe_split", split, params),
            one_format("dataframe_records", records, params),
            one_format("instances", tensor, params),
            one_format("inputs", tensor, params),
        ],
        "description": "exactly one of dataframe_split, dataframe_records, instances, inputs",
    }


def row_schema(schema: ColumnSchema) -> dict[str, Any]:
    """A row of values in the features' order (OpenAPI 3.0 cannot type each position: the
    items are any of the features' value schemas)."""
    plain = [
        {k: v for k, v in value_schema(f).items() if k != "description"} for f in schema.features
    ]
    kinds = {json.dumps(p, sort_keys=True) for p in plain}
    items = json.loads(kinds.pop()) if len(kinds) == 1 else {}
    n = len(schema.features)
    return {
        "type": "array",
        "items": items,
        "minItems": n,
        "maxItems": n,
        "description": "the values of " + ", ".join(schema.feature_names) + ", in that order",
    }


def request_schemas(max_rows: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
    """The inputs: a record, MLflow's request, a file request and a records request."""
    values = {f.name: value_schema(f) for f in schema.features}
    record = obj(required_features(schema), **values, **{schema.id: ID})
    records = {"type": "array", "items": ref("Record"), "minItems": 1, "maxItems": max_rows}
    rows = {"type": "array", "items": row_schema(schema), "minItems": 1, "maxItems": max_rows}
    return {
        "Record": record,
        "MlflowRequest": mlflow_request(records, rows, schema),
        "FileRequest": closed(
            ["filepath"],
            filepath=FILE_NAME,
            offset={"type": "integer", "minimum": 0},
            limit={"type": "integer", "minimum": 1, "maximum": max_rows},
        ),
        "RecordsRequest": closed(["records"], records=records),
    }


def prediction_schemas(schema: ColumnSchema) -> dict[str, Any]:
    """The answers of /prediction and /invocations."""
    prediction = obj(
        ["prediction", "probability"],
        prediction={"type": "integer", "enum": [0, 1]},
        probability={"type": "number", "minimum": 0, "maximum": 1},
        **{schema.id: {"type": "string"}},
    )
    return {
        "Predictions": obj(
            ["model_version", "rows", "predictions"],
            model_version=TEXT,
            rows={"type": "integer"},
            predictions={"type": "array", "items": prediction},
            total={"type": "integer"},
            offset={"type": "integer"},
            next_offset={"type": "integer", "nullable": True},
        ),
        "MlflowPredictions": obj(
            ["predictions"],
            predictions={"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
        ),
    }


def rejected_schema() -> dict[str, Any]:
    """What one batch rejected: files rejected whole, rows dropped, top reasons."""
    return obj(
        ["batch", "files", "rows", "reasons"],
        batch={"type": "integer"},
        files={"type": "array", "items": obj(["name", "error"], name=TEXT, error=TEXT)},
        rows={"type": "integer"},
        reasons={"type": "object", "additionalProperties": {"type": "integer"}},
    )


def data_schemas() -> dict[str, Any]:
    """The answers of /scoring, /summarystats and /diagnostics."""
    stats = obj(
        ["mean", "median", "std"], mean=NULLABLE_NUMBER, median=NULLABLE_NUMBER, std=NULLABLE_NUMBER
    )
    confusion = obj(
        ["tn", "fp", "fn", "tp"], **{k: {"type": "integer"} for k in ("tn", "fp", "fn", "tp")}
    )
    return {
        "Scores": obj(
            ["model_version", "f1", "precision", "recall", "roc_auc", "accuracy", "rows"],
            model_version=TEXT,
            test_data=TEXT,
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
            counts={  # reports/numbers.py: the counts the dashboard and the PDF show
                "type": "object",
                "nullable": True,
                "additionalProperties": {"type": "integer"},
            },
            rejected={"type": "array", "items": rejected_schema()},
        ),
        "Diagnostics": obj(
            ["missing_data", "execution_time", "dependencies"],
            missing_data={"type": "object"},
            execution_time={"type": "object"},
            dependencies={"type": "object"},
        ),
    }


def client_schema(schema: ColumnSchema) -> dict[str, Any]:
    """One client of the risk list, with its reasons."""
    return obj(
        [schema.id, "exit_probability", "rank", "risk_band", "reasons", "contributions"],
        **{schema.id: {"type": "string"}},
        exit_probability={"type": "number"},
        rank={"type": "integer"},
        risk_band={"type": "string", "enum": ["high", "medium", "low"]},
        reasons={
            "type": "array",
            "items": obj(
                ["feature", "contribution"],
                feature={"type": "string", "enum": schema.feature_names},
                label={"type": "string", "description": "the feature's plain words"},
                contribution={"type": "number"},
                text={"type": "string"},
            ),
        },
        contributions={"type": "object", "additionalProperties": {"type": "number"}},
        own_change={"type": "array", "items": {"type": "string"}},
    )


def risk_schemas(schema: ColumnSchema) -> dict[str, Any]:
    """The answers of /risk and /risk/{corporation}."""
    client = client_schema(schema)
    return {
        "RiskPage": obj(
            ["model_version", "total", "page", "top", "band", "clients"],
            model_version=TEXT,
            total={"type": "integer"},
            page={"type": "integer"},
            top={"type": "integer"},
            band={"type": "string", "nullable": True},
            clients={"type": "array", "items": client},
        ),
        "RiskClient": {"allOf": [client, obj(["model_version"], model_version=TEXT)]},
        "Calls": obj(
            ["model_version", "calls_per_week", "ordered_by", "current_clients", "calls"],
            model_version=TEXT,
            calls_per_week={"type": "integer"},
            ordered_by=TEXT,
            current_clients={"type": "integer"},
            model_change={"type": "string", "nullable": True},
            calls={"type": "array", "items": {"allOf": [client, call_schema()]}},
        ),
    }


def call_schema() -> dict[str, Any]:
    """What a call adds to a client of the risk list: its place and what changed."""
    return obj(
        ["call", "previous_rank", "on_last_list", "change_text"],
        call={"type": "integer"},
        previous_rank={"type": "integer", "nullable": True},
        on_last_list={"type": "boolean", "nullable": True},
        change_text=TEXT,
        value_at_risk={"type": "number"},
    )


def status_schemas() -> dict[str, Any]:
    """The answers of /health and /version, and the error of every endpoint."""
    return {
        "Health": obj(
            ["status", "model_version", "deployed_at"],
            status=TEXT,
            model_version=TEXT,
            deployed_at=TEXT,
            reload_error={"type": "string", "nullable": True},
        ),
        "Version": obj(
            ["model_version", "model_sha256", "deployed_at", "f1"],
            model_version=TEXT,
            model_sha256=TEXT,
            deployed_at=TEXT,
            f1={"type": "number"},
        ),
        "Error": obj(["error_code", "message", "error"], error_code=TEXT, message=TEXT, error=TEXT),
    }


def schemas(max_rows: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
    """The component schemas: inputs, answers and the error."""
    return {
        **request_schemas(max_rows, schema),
        **prediction_schemas(schema),
        **data_schemas(),
        **risk_schemas(schema),
        **status_schemas(),
    }
