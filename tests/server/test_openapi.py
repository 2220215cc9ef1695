"""GET /openapi.json: a valid OpenAPI document describing every route; schemathesis finds
no 5xx and no answer that contradicts it (slow: make test-slow)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig

from risk_assessment.core.settings import DEFAULTS
from risk_assessment.schema.cells import id_cells
from risk_assessment.server.openapi import openapi_spec
from risk_assessment.server.openapi_schemas import ID, WORDS


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


# --- schemathesis: the server against its own description (slow) ------------------------

FUZZED = []  # one entry per generated request, to check the run's size


@pytest.fixture(scope="module")
def described_app(tmp_path_factory):
    """The real app over a deployed workspace, shared by the whole fuzzing run."""
    from risk_assessment.server.app import create_app
    from tests.server.test_server import make_workspace

    app = create_app(make_workspace(tmp_path_factory.mktemp("fuzzed")))
    assert app.test_client().get("/openapi.json").get_json() == SPEC
    return app


# the description as served with the default settings (a fixture checks the app serves it)
SPEC = openapi_spec(DEFAULTS["api"]["max_rows"])
# A body beyond api.max_rows is refused with 413 (Content Too Large), a rejection like 400:
# schemathesis's default list of rejections lacks it.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428"]
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
)
fuzz = schemathesis.openapi.from_dict(SPEC, config=FUZZ_CONFIG)


@pytest.mark.slow
@fuzz.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_described_answers(case, described_app):
    """Valid and invalid generated requests: never a 5xx, never an undescribed answer."""
    FUZZED.append(case.operation.label)
    case.call_and_validate(app=described_app)


@pytest.mark.slow
def test_the_fuzzing_run_sent_at_least_1000_requests():
    """The run above (same module, runs first) generated >= 1,000 requests."""
    assert len(FUZZED) >= 1000, len(FUZZED)


# --- the description's text cells agree with the server's rule ------------------------------


def served_as(text: str) -> bool:
    """True when the server takes text as a client id (stripped, then judged)."""
    return id_cells(pd.Series([text.strip()], dtype=str), "id").iloc[0] == ""


@pytest.mark.parametrize("text", ["C 000061", "Île-de-France", "Nord, Pas-de-Calais", "a/b", " x "])
def test_the_description_takes_a_users_own_ids_and_levels(text):
    """Ids and learnt levels with spaces, accents and commas are valid by the description."""
    assert re.match(ID["pattern"], text) and re.match(WORDS["pattern"], text)
    assert served_as(text)


@given(
    st.text(alphabet=st.characters(max_codepoint=0x2100, exclude_categories=("Cs",)), max_size=210)
)
@settings(max_examples=300, deadline=None)
def test_the_descriptions_id_pattern_is_the_servers_rule(text):
    """Any text: valid by the description's pattern exactly when the server takes it as an
    id (no control character, not empty or only spaces, at most 200 characters once
    stripped)."""
    assert bool(re.match(ID["pattern"], text)) == served_as(text), repr(text)
