"""Request parsing for the model server: MLflow's scoring protocol and the project's own.

Pure functions from request bytes to rows: (ids or None, a frame of the schema's features,
typed). Every cell goes through schema/cells.py's rules, as a file's cells do in ingestion:
a value that ingestion would drop (12.5 for an integer, a category outside its levels) is
a 400 naming the column, the row and the reason. Every refusal is an ApiError with an
HTTP status, an MLflow error code and a one-line message naming the field. Nothing here
reads files or the model.

MLflow 3 scoring protocol (POST /invocations), application/json with exactly one of
  dataframe_split    {"columns": [...], "data": [[...], ...]}  ("index" ignored)
  dataframe_records  [{"column": value, ...}, ...]
  instances          a list of records, a list of rows, or {"column": [values]}
  inputs             the same three shapes
plus an optional "params" object (accepted, ignored: the model takes none); or text/csv.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any, NamedTuple

from risk_assessment.core.common import DataError

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema, Feature
from risk_assessment.schema.csv_text import check_separator, decode_text, found_columns
from risk_assessment.schema.dataset import checked_features, header_names

MAX_ABS = 2**53  # |value| beyond this is refused: floats lose integer precision past it
MAX_DEPTH = 16  # JSON nesting deeper than this is refused before parsing
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")
STATUS_CODES = {  # MLflow's (databricks_pb2) error codes by HTTP status
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "BAD_REQUEST",
    408: "BAD_REQUEST",
    413: "REQUEST_LIMIT_EXCEEDED",
    414: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    431: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}
STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class ApiError(Exception):
    """An error answer: HTTP status, one-line message, MLflow error code."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "BAD_REQUEST")


def invalid(message: str) -> ApiError:
    """A 400 for a value that is there but wrong (MLflow's INVALID_PARAMETER_VALUE)."""
    return ApiError(400, message, "INVALID_PARAMETER_VALUE")


def check_content_type(content_type: str | None) -> str:
    """The media type (application/json or text/csv); 415 for others, other charsets,
    or unknown parameters, as MLflow's server does."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    mime = parts[0].lower()
    params = dict(p.partition("=")[::2] for p in parts[1:] if p)
    params = {k.strip().lower(): v.strip().strip('"') for k, v in params.items()}
    if mime not in CONTENT_TYPES:
        raise ApiError(415, f"content type {mime or 'none'!r}: send application/json or text/csv")
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise ApiError(415, f"charset {params['charset']!r}: only utf-8 is supported")
    unknown = sorted(set(params) - {"charset"})
    if unknown:
        raise ApiError(415, f"content type parameter(s) {', '.join(unknown)}: not supported")
    return mime


def json_depth(raw: bytes) -> int:
    """The deepest nesting of [ and { in JSON bytes, strings ignored (no recursion);
    0 when there are too few brackets to matter."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:  # the common case: a small body
        return 0
    bare = STRING_RE.sub(b"", raw)
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = ((codes == 91) | (codes == 123)).astype(np.int32) - ((codes == 93) | (codes == 125))
    return int(np.cumsum(steps).max()) if len(steps) else 0


def refuse_constant(name: str):
    """NaN and Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """Decoded JSON; 400 for empty, too deep, malformed or non-UTF-8 bodies."""
    if not raw.strip():
        raise ApiError(400, "request body: empty")
    if json_depth(raw) > MAX_DEPTH:
        raise ApiError(400, f"request body: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body: not UTF-8 (bad byte at offset {exc.start})") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits
        raise ApiError(400, f"request body: not valid JSON ({str(exc)[:120]})") from None


def number_text(value: Any, where: str) -> str:
    """A JSON number as the text a CSV cell would hold; 400 for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{where}: {str(value)[:40]!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{where}: {value!r} is not a finite number")
    if abs(value) > MAX_ABS:
        raise invalid(f"{where}: {str(value)[:40]} is beyond +-2**53 ({MAX_ABS})")
    return repr(value)


def cell_text(value: Any, feature: Feature | None, where: str) -> str:
    """A JSON value as the text a CSV cell would hold, by the feature's type (None: the
    id column); null is an empty cell. 400 for a JSON type the column cannot hold."""
    if value is None:
        return ""
    if feature is not None and feature.numeric:
        return number_text(value, where)
    if feature is not None and feature.type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if feature is not None and feature.type == "boolean" and type(value) is int:
        return str(value)
    if not isinstance(value, str):
        raise invalid(f"{where}: {str(value)[:40]!r} is not a string")
    return value.strip()


def fast_numeric(values: list, feature: Feature) -> np.ndarray | None:
    """The column as float64 when every value is a JSON number that passes the feature's
    rules (the common case, no text made); None when any needs the full rules."""
    if not all(type(v) is float or (type(v) is int and -MAX_ABS <= v <= MAX_ABS) for v in values):
        return None
    out = np.fromiter(values, dtype=np.float64, count=len(values))
    fine = np.isfinite(out) & (np.abs(out) <= MAX_ABS)
    if feature.type == "integer":
        fine &= out == np.floor(out)
    if feature.min is not None:
        fine &= out >= feature.min
    if feature.max is not None:
        fine &= out <= feature.max
    return out if fine.all() else None


def column_cells(values: list, feature: Feature | None, field: str, text: bool) -> list[str]:
    """A column's values as cell texts (CSV text is taken as it is)."""
    if text:
        return [str(v).strip() for v in values]
    return [cell_text(v, feature, f"column {field} row {i + 1}") for i, v in enumerate(values)]


def check_rows(n: int, field: str, max_rows: int) -> None:
    """400 for no rows, 413 beyond the per-request cap."""
    if n == 0:
        raise ApiError(400, f"{field}: empty input, no rows to score")
    if n > max_rows:
        raise ApiError(413, f"{field}: {n} rows, at most {max_rows} per request (api.max_rows)")


class Rows(NamedTuple):
    """Rows to score: their ids (None when the request gave none) and the features, typed,
    one column per feature of the schema in its order."""

    ids: list[str] | None
    frame: pd.DataFrame


def typed_rows(columns: dict[str, list], schema: ColumnSchema, text: bool) -> Rows:
    """Rows from {schema column: values}, every cell through the schema's rules (the
    ingestion's); 400 naming the first bad cell's column, row and reason."""
    fast = {}
    if not text and schema.id not in columns:
        for f in schema.features:
            out = fast_numeric(columns[f.name], f) if f.numeric and f.name in columns else None
            if out is None:
                break
            fast[f.name] = out
    if len(fast) == len(schema.features):  # every value a fine number: no text at all
        return Rows(None, pd.DataFrame(fast, columns=schema.feature_names))
    n = len(next(iter(columns.values())))
    cells = {
        name: column_cells(values, feature_of(schema, name), name, text)
        for name, values in columns.items()
    }
    table = pd.DataFrame({name: cells.get(name, [""] * n) for name in schema.feature_names})
    if schema.id in cells:
        table.insert(0, schema.id, cells[schema.id])
    try:
        frame = checked_features(table, "rows", schema)
    except DataError as exc:
        raise invalid(str(exc).removeprefix("rows: ")) from None
    return Rows(cells.get(schema.id), frame.reset_index(drop=True))


def feature_of(schema: ColumnSchema, name: str) -> Feature | None:
    """The feature of a column name; None for the id column."""
    return None if name == schema.id else schema.feature(name)


def schema_names(keys: list[str], field: str, schema: ColumnSchema) -> dict[str, str]:
    """{given name: the schema column it names, matched as a file's header is (case and
    spaces ignored, then the aliases), or itself}; 400 when two name one column."""
    names = header_names(keys, schema)
    taken = [n for n in names if n is not None]
    twice = sorted({n for n in taken if taken.count(n) > 1})
    if twice:
        raise invalid(
            f"{field}: duplicated column(s) {', '.join(twice)} after normalising the names"
        )
    return {key: name or key for key, name in zip(keys, names, strict=True)}


def missing_columns(needed: list[str], given: list[str], where: str) -> None:
    """400 naming the needed columns not given, and the first of those given."""
    missing = [c for c in needed if c not in given]
    if missing:
        found = found_columns(given)
        raise invalid(f"{where}: missing column(s) {', '.join(missing)} (found: {found})")


def from_columns(
    columns: dict[str, list], field: str, max_rows: int, schema: ColumnSchema, text: bool = False
) -> Rows:
    """(ids, features) from {column: [values]}; every column the same length. Names are
    matched as a file's header is; columns the schema does not know are ignored."""
    rename = schema_names(list(columns), field, schema)
    columns = {rename[k]: v for k, v in columns.items()}
    missing_columns([f.name for f in schema.features if f.required], list(columns), field)
    known = [*schema.feature_names, schema.id]
    used = {c: columns[c] for c in known if c in columns}  # other columns are ignored
    lengths = {len(v) if isinstance(v, list) else -1 for v in used.values()}
    if -1 in lengths or len(lengths) != 1:
        raise invalid(f"{field}: every column must be a list of the same length")
    check_rows(lengths.pop(), field, max_rows)
    return typed_rows(used, schema, text)


def from_records(records: Any, field: str, max_rows: int, schema: ColumnSchema) -> Rows:
    """(ids, features) from a list of {column: value} objects."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise invalid(f"{field}: must be a list of objects")
    check_rows(len(records), field, max_rows)
    rename = schema_names(list(dict.fromkeys(k for r in records for k in r)), field, schema)
    if any(k != v for k, v in rename.items()):  # names as in a file: the schema's spelling
        records = [named_record(r, rename, f"{field}: record {i + 1}", schema)
                   for i, r in enumerate(records)]  # fmt: skip
    needed = [f.name for f in schema.features if f.required]
    for i, record in enumerate(records):
        missing_columns(needed, list(record), f"{field}: record {i + 1}")
    names = [f for f in schema.feature_names if any(f in r for r in records)]
    if all(schema.id in r for r in records):
        names.append(schema.id)
    return typed_rows({n: [r.get(n) for r in records] for n in names}, schema, False)


def named_record(record: dict, rename: dict[str, str], where: str, schema) -> dict:
    """A record under the schema's column names; 400 when two keys name one column."""
    if len({rename[k] for k in record}) < len(record):
        schema_names(list(record), where, schema)  # raises, naming the column
    return {rename[k]: v for k, v in record.items()}


def from_rows(
    rows: list,
    columns: list | None,
    field: str,
    max_rows: int,
    schema: ColumnSchema,
    text: bool = False,
) -> Rows:
    """(ids, features) from a list of rows, in the named columns (default: the features)."""
    columns = list(schema.feature_names) if columns is None else columns
    if not all(isinstance(c, str) for c in columns):
        raise invalid(f"{field}: column names must be strings")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise invalid(f"{field}: duplicate column(s) {', '.join(duplicated)}")
    if not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise invalid(f"{field}: every row must be a list of {len(columns)} values")
    check_rows(len(rows), field, max_rows)
    table = dict(zip(columns, zip(*rows, strict=True), strict=True))
    return from_columns({k: list(v) for k, v in table.items()}, field, max_rows, schema, text)


def from_split(split: Any, max_rows: int, schema: ColumnSchema) -> Rows:
    """(ids, features) from pandas' split orient: {"columns", "data", optional "index"}."""
    field = "dataframe_split"
    if not isinstance(split, dict) or not isinstance(split.get("data"), list):
        raise invalid(f"{field}: needs a 'data' list of rows (and 'columns')")
    columns = split.get("columns")
    if columns is not None and not isinstance(columns, list):
        raise invalid(f"{field}: 'columns' must be a list")
    if not isinstance(split.get("index", []), list | None):
        raise invalid(f"{field}: 'index' must be a list")
    return from_rows(split["data"], columns, field, max_rows, schema)


def from_tensor(value: Any, field: str, max_rows: int, schema: ColumnSchema) -> Rows:
    """(ids, features) from instances/inputs: records, rows, or a dict of columns."""
    if isinstance(value, dict):
        return from_columns(value, field, max_rows, schema)
    if not isinstance(value, list):
        raise invalid(f"{field}: must be a list of records or rows, or an object of columns")
    if value and all(isinstance(v, dict) for v in value):
        return from_records(value, field, max_rows, schema)
    return from_rows(value, None, field, max_rows, schema)


def mlflow_rows(body: Any, max_rows: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> Rows:
    """(ids, features) of an MLflow JSON request: exactly one format key; params ignored."""
    if not isinstance(body, dict):
        raise ApiError(400, f"request body: must be a JSON object with one of {', '.join(FORMATS)}")
    keys = [k for k in FORMATS if k in body]
    if len(keys) != 1:
        given = ", ".join(keys) or "none"
        raise ApiError(400, f"request body: needs exactly one of {', '.join(FORMATS)}; got {given}")
    if "params" in body and not isinstance(body["params"], dict | None):
        raise invalid("params: must be an object")
    key = keys[0]
    if key == "dataframe_split":
        return from_split(body[key], max_rows, schema)
    if key == "dataframe_records":
        return from_records(body[key], key, max_rows, schema)
    return from_tensor(body[key], key, max_rows, schema)


def csv_rows(raw: bytes, source: str, max_rows: int, schema: ColumnSchema = DEFAULT_SCHEMA) -> Rows:
    """(ids, features) from CSV bytes with a header (required features needed, id optional;
    headers matched as in ingestion: case and spaces ignored, then the aliases)."""
    try:  # the checks of an input file: encoding, binary content, separator
        text = decode_text(source, raw)
        check_separator(source, text)
    except DataError as exc:
        raise ApiError(400, str(exc)) from None
    reader = csv.reader(io.StringIO(text))
    try:
        given = next(reader)
        rows = [r for r in reader if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ApiError(400, f"{source}: malformed CSV ({exc})") from None
    header = [
        n or c.strip().lower() for n, c in zip(header_names(given, schema), given, strict=True)
    ]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise invalid(f"{source}: duplicate column(s) {', '.join(duplicated)}")
    missing_columns([f.name for f in schema.features if f.required], header, source)
    if not rows:
        raise ApiError(400, f"{source}: header only, no data rows")
    if any(len(r) != len(header) for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise invalid(f"{source}: row {bad + 1} has {len(rows[bad])} fields, header {len(header)}")
    return from_rows(rows, header, source, max_rows, schema, text=True)
