"""GET /openapi.json: a valid OpenAPI document describing every route; schemathesis finds
no 5xx and no answer that contradicts it (slow: make test-slow)."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_openapi_json_is_a_valid_document(client):
    """The served description passes openapi-spec-validator."""
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    validate(answer.get_json())


def test_every_route_and_method_is_described(app, client):
    """Each Flask route (and method) of the app is in the description, and nothing else."""
    spec = client.get("/openapi.json").get_json()
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert routes == described


def test_summary_is_described_like_summarystats(client):
    """Both spellings are in the description with the same answer schema."""
    paths = client.get("/openapi.json").get_json()["paths"]
    assert paths["/summary"]["get"]["responses"] == paths["/summarystats"]["get"]["responses"]
