"""What a scoring request asks for: the rows of an MLflow request (/invocations) or of a
/prediction request (a file, records or CSV) and a file's paging. A part of the server's
app.py; every refusal is an ApiError (a 4xx JSON answer naming the field).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import request
from werkzeug.exceptions import ClientDisconnected

from risk_assessment.server.protocol import (
    ApiError,
    Rows,
    check_content_type,
    csv_rows,
    from_records,
    invalid,
    mlflow_rows,
    parse_json,
)
from risk_assessment.server.serving import read_data_file, state


def body_bytes() -> bytes:
    """The request body; 408 when the client stalls past the server's read timeout."""
    try:
        return request.get_data(cache=False)
    except (OSError, ClientDisconnected):  # read timeout set by gunicorn.conf.py
        raise ApiError(408, "request body: not received in time") from None


def request_rows(max_rows: int) -> Rows:
    """(ids, features) of an MLflow scoring request (JSON or CSV)."""
    schema = state().config["schema"]
    mime = check_content_type(request.content_type)
    raw = body_bytes()
    if mime == "text/csv":
        return csv_rows(raw, "CSV body", max_rows, schema)
    return mlflow_rows(parse_json(raw), max_rows, schema)


class PredictionInput(NamedTuple):
    """What a /prediction request asks to score, and its paging arguments (the query or
    the JSON body; None for rows sent in the body, which are not paged)."""

    rows: Rows
    paging: Any | None


def prediction_rows(config: dict[str, Any]) -> PredictionInput:
    """The rows of a /prediction request (a file, records or CSV) and their paging.

    Files are paged (offset, limit in `paging`, the query or the body); request bodies
    are capped at api.max_rows and have no paging (None).
    """
    max_rows, schema = int(config["api"]["max_rows"]), config["schema"]
    if request.method == "GET":
        given = request.args.get("filename") or request.args.get("filepath")
        if not given:
            raise ApiError(400, "query parameter filename is required")
        rows = csv_rows(read_data_file(config, given), given, 10**9, schema)
        return PredictionInput(rows, request.args)
    mime = check_content_type(request.content_type)
    raw = body_bytes()
    if mime == "text/csv":
        return PredictionInput(csv_rows(raw, "CSV body", max_rows, schema), None)
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
        return PredictionInput(from_records(body["records"], "records", max_rows, schema), None)
    if "filepath" in body:
        if not isinstance(body["filepath"], str):
            raise invalid("filepath: must be a string")
        raw = read_data_file(config, body["filepath"])
        rows = csv_rows(raw, body["filepath"], 10**9, schema)
        return PredictionInput(rows, body)
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
