"""Request parsing for the model server: MLflow's scoring protocol and the project's own.

Pure functions from request bytes to rows: (ids or None, an n x 3 float matrix of FEATURES).
Every refusal is an ApiError with an HTTP status, an MLflow error code and a one-line
message naming the field. Nothing here reads files or the model.

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

from risk_assessment.core.common import FEATURES, ID_COLUMN

import numpy as np

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


def number(value: Any, field: str, row: int, text: bool = False) -> float:
    """A finite number within MAX_ABS: a JSON number, or CSV text when text is set;
    400 naming field and row otherwise."""
    where = f"column {field} row {row + 1}"
    allowed = (int, float, str) if text else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise invalid(f"{where}: {str(value)[:40]!r} is not a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise invalid(f"{where}: {value[:40]!r} is not a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{where}: {value!r} is not a finite number")
    if abs(value) > MAX_ABS:
        raise invalid(f"{where}: {str(value)[:40]} is beyond +-2**53 ({MAX_ABS})")
    if value < 0:  # the features are counts, as ingestion's rules say
        raise invalid(f"{where}: {str(value)[:40]} is negative; counts are 0 or more")
    return float(value)


def column_values(values: list, field: str, text: bool = False) -> np.ndarray:
    """A column of numbers as float64; 400 naming the first bad cell."""
    if all(type(v) is float or (type(v) is int and -MAX_ABS <= v <= MAX_ABS) for v in values):
        out = np.fromiter(values, dtype=np.float64, count=len(values))  # the common case
        if np.isfinite(out).all() and ((out >= 0) & (out <= MAX_ABS)).all():
            return out
    return np.array([number(v, field, i, text) for i, v in enumerate(values)], dtype=np.float64)


def id_values(values: list) -> list[str]:
    """Client ids: strings; 400 naming the first that is not."""
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise invalid(f"column {ID_COLUMN} row {i + 1}: {str(value)[:40]!r} is not a string")
    return values


def check_rows(n: int, field: str, max_rows: int) -> None:
    """400 for no rows, 413 beyond the per-request cap."""
    if n == 0:
        raise ApiError(400, f"{field}: empty input, no rows to score")
    if n > max_rows:
        raise ApiError(413, f"{field}: {n} rows, at most {max_rows} per request (api.max_rows)")


class Rows(NamedTuple):
    """Rows to score: their ids (None when the request gave none) and the feature matrix."""

    ids: list[str] | None
    matrix: np.ndarray


def from_columns(columns: dict[str, list], field: str, max_rows: int, text: bool = False) -> Rows:
    """(ids, matrix) from {column: [values]}; every column the same length."""
    missing = [f for f in FEATURES if f not in columns]
    if missing:
        raise invalid(f"{field}: missing column(s) {', '.join(missing)}")
    used = [c for c in (*FEATURES, ID_COLUMN) if c in columns]  # other columns are ignored
    lengths = {len(columns[c]) if isinstance(columns[c], list) else -1 for c in used}
    if -1 in lengths or len(lengths) != 1:
        raise invalid(f"{field}: every column must be a list of the same length")
    check_rows(lengths.pop(), field, max_rows)
    matrix = np.column_stack([column_values(columns[f], f, text) for f in FEATURES])
    ids = columns.get(ID_COLUMN)
    return Rows(id_values(ids) if ids is not None else None, matrix)


def from_records(records: Any, field: str, max_rows: int) -> Rows:
    """(ids, matrix) from a list of {column: value} objects."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise invalid(f"{field}: must be a list of objects")
    check_rows(len(records), field, max_rows)
    for i, record in enumerate(records):
        missing = [f for f in FEATURES if f not in record]
        if missing:
            raise invalid(f"{field}: record {i + 1} misses column(s) {', '.join(missing)}")
    matrix = np.column_stack([column_values([r[f] for r in records], f) for f in FEATURES])
    has_ids = all(ID_COLUMN in r for r in records)
    return Rows(id_values([r[ID_COLUMN] for r in records]) if has_ids else None, matrix)


def from_rows(
    rows: list, columns: list | None, field: str, max_rows: int, text: bool = False
) -> Rows:
    """(ids, matrix) from a list of rows, in the named columns (default: FEATURES)."""
    columns = list(FEATURES) if columns is None else columns
    if not all(isinstance(c, str) for c in columns):
        raise invalid(f"{field}: column names must be strings")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise invalid(f"{field}: duplicate column(s) {', '.join(duplicated)}")
    if not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise invalid(f"{field}: every row must be a list of {len(columns)} values")
    check_rows(len(rows), field, max_rows)
    table = dict(zip(columns, zip(*rows, strict=True), strict=True))
    return from_columns({k: list(v) for k, v in table.items()}, field, max_rows, text)


def from_split(split: Any, max_rows: int) -> Rows:
    """(ids, matrix) from pandas' split orient: {"columns", "data", optional "index"}."""
    field = "dataframe_split"
    if not isinstance(split, dict) or not isinstance(split.get("data"), list):
        raise invalid(f"{field}: needs a 'data' list of rows (and 'columns')")
    columns = split.get("columns")
    if columns is not None and not isinstance(columns, list):
        raise invalid(f"{field}: 'columns' must be a list")
    if not isinstance(split.get("index", []), list | None):
        raise invalid(f"{field}: 'index' must be a list")
    return from_rows(split["data"], columns, field, max_rows)


def from_tensor(value: Any, field: str, max_rows: int) -> Rows:
    """(ids, matrix) from instances/inputs: records, rows, or a dict of columns."""
    if isinstance(value, dict):
        return from_columns(value, field, max_rows)
    if not isinstance(value, list):
        raise invalid(f"{field}: must be a list of records or rows, or an object of columns")
    if value and all(isinstance(v, dict) for v in value):
        return from_records(value, field, max_rows)
    return from_rows(value, None, field, max_rows)


def mlflow_rows(body: Any, max_rows: int) -> Rows:
    """(ids, matrix) of an MLflow JSON request: exactly one format key; params ignored."""
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
        return from_split(body[key], max_rows)
    if key == "dataframe_records":
        return from_records(body[key], key, max_rows)
    return from_tensor(body[key], key, max_rows)


def csv_rows(raw: bytes, source: str, max_rows: int) -> Rows:
    """(ids, matrix) from CSV bytes with a header (features required, id optional)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"{source}: not UTF-8 (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise ApiError(400, f"{source}: empty file")
    if "\x00" in text:
        raise ApiError(400, f"{source}: binary content, not a CSV file")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [c.strip().lower() for c in next(reader)]
        rows = [r for r in reader if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ApiError(400, f"{source}: malformed CSV ({exc})") from None
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise invalid(f"{source}: duplicate column(s) {', '.join(duplicated)}")
    missing = [f for f in FEATURES if f not in header]
    if missing:
        found = ", ".join(header[:8]) or "none"
        raise invalid(f"{source}: missing column(s) {', '.join(missing)} (found: {found})")
    if not rows:
        raise ApiError(400, f"{source}: header only, no data rows")
    if any(len(r) != len(header) for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise invalid(f"{source}: row {bad + 1} has {len(rows[bad])} fields, header {len(header)}")
    return from_rows(rows, header, source, max_rows, text=True)
