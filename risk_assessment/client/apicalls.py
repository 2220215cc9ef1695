"""The logic under apicalls.py: calling every endpoint of a running server and saving the
answers.

What it reads and writes, and the command: the docstring of apicalls.py.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    LIVE_MANIFEST,
    RiskError,
    now_iso,
    read_json,
    test_data_file,
    write_atomic,
    write_json,
)

import requests

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema

log = logging.getLogger("apicalls")

TOKEN_ENV = "RISK_API_TOKEN"  # the bearer token apicalls sends, when set
TIMEOUT = 30  # seconds per call: /prediction on a large file may take a while


def sample_row(schema: ColumnSchema) -> dict[str, Any]:
    """A valid record of the schema's features: 10 within the bounds, the first level,
    true."""
    row: dict[str, Any] = {}
    for f in schema.features:
        if f.numeric:
            value = min(max(10, f.min if f.min is not None else 10), f.max or 10)
            row[f.name] = int(value) if f.type == "integer" else float(value)
        elif f.type == "boolean":
            row[f.name] = True
        else:
            row[f.name] = f.levels[0] if f.levels else "other"
    return row


def api_requests(
    test_file: str, schema: ColumnSchema = DEFAULT_SCHEMA
) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, requests keyword arguments) of every call to make."""
    row = sample_row(schema)
    return [
        ("GET", "/health", {}),
        ("GET", "/version", {}),
        ("GET", "/ping", {}),
        ("POST", "/prediction", {"json": {"filepath": test_file}}),
        ("GET", "/prediction", {"params": {"filename": test_file}}),
        ("POST", "/prediction", {"json": {"records": [{schema.id: "abcd", **row}]}}),
        ("POST", "/invocations", {"json": {"dataframe_records": [row]}}),
        ("GET", "/scoring", {}),
        ("GET", "/summarystats", {}),
        ("GET", "/diagnostics", {}),
    ]


class OtherServerError(RiskError):
    """The server at the URL does not serve this deployment's model."""


def check_served_model(base_url: str, prod: Path, token: str | None = None) -> dict[str, Any]:
    """OtherServerError unless the server's /version names the live model of prod.

    Returns the /version answer. Neither a model here nor there (a fresh workspace) passes:
    the calls then record the server's 503s.
    """
    live = read_json(prod / LIVE_MANIFEST, {}) or {}
    (answer,) = call_api(base_url, [("GET", "/version", {})], token)
    if answer["status"] in (401, 403):
        raise RiskError(
            f"{base_url}: the server wants a token with scopes predict,read ({answer['status']}):"
            f" set ${TOKEN_ENV} (python app.py tokens create apicalls --scope predict,read)"
        )
    served = answer["body"] if answer["status"] == 200 and isinstance(answer["body"], dict) else {}
    if served.get("model_sha256") == live.get("model_sha256"):
        return served
    what = (
        f"model {served.get('model_version')} ({str(served.get('model_sha256'))[:12]}...)"
        if served
        else f"no model of ours (/version answered {answer['status']})"
    )
    ours = (
        f"{(prod / LIVE_MANIFEST).parent.resolve().name} ({live.get('model_sha256', '?')[:12]}...)"
        if live
        else "none (nothing deployed here)"
    )
    raise OtherServerError(
        f"{base_url} serves {what}, not this deployment's model {ours} from {prod}: "
        f"another deployment? answers not saved"
    )


def call_api(
    base_url: str, calls: list[tuple[str, str, dict[str, Any]]], token: str | None = None
) -> list[dict[str, Any]]:
    """Make the calls (with the bearer token, if any); RiskError (one line) when the
    server cannot be reached."""
    session, answers = requests.Session(), []
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    with session:
        for method, path, kwargs in calls:
            url = base_url.rstrip("/") + path
            try:
                reply = session.request(method, url, timeout=TIMEOUT, **kwargs)
            except requests.ConnectionError:
                raise RiskError(
                    f"{base_url}: API server not reachable; start it with "
                    f"`python app.py` or gunicorn (see README)"
                ) from None
            except requests.Timeout:
                raise RiskError(f"{url}: no answer within {TIMEOUT} s") from None
            try:
                body = reply.json()
            except ValueError:
                body = reply.text
            answers.append(
                {"method": method, "path": path, "status": reply.status_code, "body": body}
            )
    return answers


def answers_text(answers: list[dict[str, Any]], base_url: str) -> str:
    """The answers as text: a header line per call, then its JSON, predictions shortened."""
    parts = [f"API answers from {base_url} at {now_iso()}"]
    for a in answers:
        body = a["body"]
        if isinstance(body, dict) and isinstance(body.get("predictions"), list):
            preds = body["predictions"]
            body = {
                **body,
                "predictions": preds[:5]
                + ([f"... {len(preds) - 5} more"] if len(preds) > 5 else []),
            }
        parts.append(f"== {a['method']} {a['path']} -> {a['status']}\n{json.dumps(body, indent=2)}")
    return "\n\n".join(parts) + "\n"


def relative_test_file(config: dict[str, Any]) -> str:
    """The test data file as the server expects it: relative to the config's folder."""
    path = test_data_file(config["test_data_path"])
    try:
        return str(path.relative_to(config["config_file"].parent))
    except ValueError:
        return str(path)


def run_apicalls(
    config: dict[str, Any], base_url: str | None = None, token: str | None = None
) -> Path:
    """Call every endpoint and save the answers; returns the text file's path.

    The token (default: $RISK_API_TOKEN) goes as `Authorization: Bearer` on every call.
    """
    base_url = base_url or config["api"]["base_url"]
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    check_served_model(base_url, config["prod_deployment_path"], token)
    calls = api_requests(relative_test_file(config), config["schema"])
    answers = call_api(base_url, calls, token)
    folder = config["output_model_path"]
    write_json(folder / "apireturns.json", {"base_url": base_url, "answers": answers})
    path = write_atomic(folder / "apireturns.txt", answers_text(answers, base_url))
    failed = [f"{a['method']} {a['path']} {a['status']}" for a in answers if a["status"] >= 400]
    log.info("%d calls to %s, %d failed; wrote %s", len(answers), base_url, len(failed), path)
    if failed:
        raise RiskError(f"{base_url}: {len(failed)} call(s) failed: {', '.join(failed)}")
    return path
