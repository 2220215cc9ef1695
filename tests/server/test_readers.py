"""What each reader sees first: /calls (JSON and CSV), the dashboard's call list and the
model-change sentence, on the real app over a real deployed workspace."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from risk_assessment.core.settings import load_config
from risk_assessment.pipeline.run import run_once
from risk_assessment.reports import reporting
from risk_assessment.server.app import create_app
from risk_assessment.sources import ingestion
from tests.conftest import (
    ID_COLUMN,  # the default schema's id
    deploy_workspace,
    deployed_for,
    shared_deployment,
    small_rows,
    write_csv,
)
from tests.reports.test_risk import CURRENT, RISKY


def with_settings(config: dict, **risk_settings) -> dict:
    """The workspace's config.json with risk settings added, loaded again."""
    path = config["config_file"]
    given = json.loads(path.read_text(encoding="utf-8"))
    given["risk"] = {**given.get("risk", {}), **risk_settings}
    path.write_text(json.dumps(given), encoding="utf-8")
    return load_config(path)


def deploy_risky(config: dict) -> dict:
    """Add the RISKY current clients, set 5 calls a week, deploy v0001; the new config."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY)
    config = with_settings(config, calls_per_week=5)
    deploy_workspace(config)
    return config


@pytest.fixture
def deployed(request):
    """The workspace plus the RISKY current clients, with v0001 deployed; 5 calls a week
    (the module's shared one for a test marked reads_deployment)."""
    yield from deployed_for(request, deploy_risky)


@pytest.fixture(scope="module")
def shared_deployed(tmp_path_factory):
    """deployed, built once for the module's tests that only read it."""
    return shared_deployment(tmp_path_factory, deploy_risky)


@pytest.fixture
def switched(deployed):
    """v0002 learnt from a batch where busy clients leave: the same clients, other bands."""
    inverted = [(f"x{c}", m, y, e, 1 - x) for c, m, y, e, x in small_rows(90, 200)]
    write_csv(deployed["input_folder_path"] / "dataset4.csv", inverted)
    assert deploy_workspace(deployed) == "v0002"
    return deployed


@pytest.mark.reads_deployment
def test_calls_lists_calls_per_week_clients_highest_risk_first(client, deployed):
    """/calls holds exactly risk.calls_per_week clients: the top of the risk list."""
    body = client.get("/calls").get_json()
    table = reporting.deployed_risk_table(deployed)[0]
    assert body["calls_per_week"] == 5 and len(body["calls"]) == 5
    assert body["current_clients"] == len(CURRENT)
    assert [c["call"] for c in body["calls"]] == [1, 2, 3, 4, 5]
    assert [c[ID_COLUMN] for c in body["calls"]] == table[ID_COLUMN].head(5).tolist()
    assert body["ordered_by"] == "exit probability"
    for c in body["calls"]:
        assert set(c) >= {"exit_probability", "risk_band", "reasons", "change_text"}


@pytest.mark.reads_deployment
def test_calls_csv_matches_the_json(client):
    """?format=csv: the same clients, in the same order, as a CSV download."""
    answer = client.get("/calls?format=csv")
    assert answer.mimetype == "text/csv" and "calls.csv" in answer.headers["Content-Disposition"]
    table = pd.read_csv(io.StringIO(answer.get_data(as_text=True)), dtype={ID_COLUMN: str})
    ids = [c[ID_COLUMN] for c in client.get("/calls").get_json()["calls"]]
    assert table[ID_COLUMN].tolist() == ids and table["call"].tolist() == [1, 2, 3, 4, 5]


def test_calls_follow_the_configured_team_size(deployed):
    """A team that can make 2 calls a week gets 2."""
    app = create_app(with_settings(deployed, calls_per_week=2))
    assert len(app.test_client().get("/calls").get_json()["calls"]) == 2


@pytest.mark.reads_deployment
def test_dashboard_leads_with_this_weeks_calls(client):
    """The dashboard's first table is this week's calls; the bands come after it."""
    html = client.get("/").get_data(as_text=True)
    assert html.index('id="calls-table"') < html.index('id="risk"')
    assert "This week's calls: the 5 clients to call first" in html
    first = client.get("/calls").get_json()["calls"][0][ID_COLUMN]
    assert html.index(first) < html.index('id="risk"')
    assert "Of every 10 clients who leave, the model flags about" in html
    assert "are expected to leave (95% interval" in html


def test_first_model_reads_its_reason_once(config):
    """After fullprocess's first run, the reason reads 'first model: no model was deployed
    yet', once, on the dashboard, and no model change is announced."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY)
    assert run_once(config).new_version == "v0001"
    html = create_app(config).test_client().get("/").get_data(as_text=True)
    assert "first model: no model was deployed yet" in html
    assert "no deployed model yet" not in html  # the old doubled reason
    assert "The model changed" not in html


def test_a_model_switch_that_moves_clients_says_so_in_one_sentence(switched):
    """After v0002 replaces v0001, the dashboard and /calls say that the model changed,
    how many clients it moved, and why it was deployed."""
    client = create_app(switched).test_client()
    sentence = client.get("/calls").get_json()["model_change"]
    assert sentence.startswith("The model changed on ")
    assert "v0002 replaced v0001 because it was deployed by hand" in sentence
    moved = int(sentence.split("alone moved ")[1].split(" of ")[0].replace(",", ""))
    assert moved >= 1
    assert sentence.endswith(".") and ". " not in sentence  # one sentence
    html = client.get("/").get_data(as_text=True)
    assert 'id="model-change"' in html and "alone moved" in html


def test_client_page_shows_arrivals_sources_and_ranks_by_version(switched):
    """/client/<id>: each observation's arrival and source file, and the client's rank and
    band under v0002 (serving) and v0001 on today's data."""
    client = create_app(switched).test_client()
    html = client.get("/client/r00").get_data(as_text=True)
    observations = html[html.index('id="observations"') :]
    assert "dataset3.csv" in observations and " UTC" in observations
    ranks = html[html.index('id="version-ranks"') : html.index('id="observations"')]
    assert ranks.index("v0002 (serving)") < ranks.index("v0001")
    table = reporting.deployed_risk_table(switched)[0].set_index(ID_COLUMN)
    assert f"{int(table.loc['r00', 'rank'])} of {len(table)}" in ranks
    assert client.get("/client/nosuch").status_code == 404


def test_a_clients_collapse_shows_first_in_its_reasons(deployed):
    """A current client whose activity collapsed since its last observation: the change
    is its first reason on /calls, /risk/<id> and its page."""
    write_csv(deployed["input_folder_path"] / "dataset5.csv", [("c001", 3, 40, 11, "")])
    ingestion.run_ingestion(deployed)
    client = create_app(deployed).test_client()
    body = client.get("/risk/c001").get_json()
    assert any(t.startswith("activity last year fell from") for t in body["own_change"])
    html = client.get("/client/c001").get_data(as_text=True)
    assert 'id="own-change"' in html and "activity last year fell from" in html
