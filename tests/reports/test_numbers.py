"""One set of numbers: each count is computed once (reports/numbers.py) and the PDF, the
dashboard and /summarystats show the same figure."""

from __future__ import annotations

import json
import re

import pytest
from pypdf import PdfReader

from risk_assessment.core.settings import load_config
from risk_assessment.deployment.versions import read_model_meta
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import numbers, reporting
from risk_assessment.server.app import create_app
from tests.conftest import configure, deploy_workspace, make_workspace, small_rows, write_csv


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict:
    """fullprocess ran once over a workspace plus a file with 2 invalid rows among 20, a
    file rejected whole (no usable header) and one whose every row is invalid. Built once:
    the tests that take it only read it."""
    config = load_config(make_workspace(tmp_path_factory.mktemp("ran")) / "config.json")
    folder = config["input_folder_path"]
    mixed = write_csv(folder / "mixed.csv", small_rows(20, 60))
    with mixed.open("a", encoding="utf-8") as out:
        out.write("c900,abc,1,1,0\nc901,5,-3,1,0\n")
    (folder / "broken.csv").write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    write_csv(folder / "floats.csv", [("f1", 1.5, 2, 3, 0), ("f2", 2.5, 3, 4, 1)])
    assert fullprocess.run_once(config).new_version == "v0001"
    return config


def test_each_count_is_the_same_in_the_pdf_the_dashboard_and_the_api(ran):
    """rows kept, new, rejected, labelled, trained on, held out, current clients: one figure
    each, in /summarystats, the dashboard and the PDF, matching what was ingested."""
    client = create_app(ran).test_client()
    api = client.get("/summarystats").get_json()["counts"]
    assert list(api) == list(numbers.LABELS)
    html = client.get("/").get_data(as_text=True)
    shown = dict(re.findall(r'data-key="(\w+)">([\d,]+)<', html))
    assert {k: int(v.replace(",", "")) for k, v in shown.items()} == api
    pdf = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(ran["output_model_path"] / "summary_report.pdf").pages
    )
    for key, label in numbers.LABELS.items():
        assert f"{label} {api[key]:,}" in pdf, key
    # and the figures are right
    assert api["rows_kept"] == 20 + 20 + 20
    assert api["rows_rejected"] == 2 + 2  # mixed.csv and floats.csv; broken.csv: none read
    assert api["labelled_rows"] == client.get("/summarystats").get_json()["rows"] == 60
    meta = read_model_meta(ran["prod_deployment_path"] / "current")
    assert api["trained_on"] == meta["rows"] and api["held_out"] == 0
    assert api["current_clients"] == len(reporting.deployed_risk_table(ran)[0])


def test_the_first_deployment_states_the_rows_it_was_trained_on(ran):
    """The appendix's decision says 'trained on N rows' with the same N as the numbers."""
    pdf = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(ran["output_model_path"] / "summary_report.pdf").pages
    )
    trained = read_model_meta(ran["prod_deployment_path"] / "current")["rows"]
    assert f"It is the first model deployed (trained on {trained:,} rows)." in pdf


def test_rejected_data_shows_where_people_look(ran):
    """The runs panel, the runs page, the PDF and /summarystats name the rejected file with
    why, and the rows dropped from mixed.csv with their reasons and counts."""
    client = create_app(ran).test_client()
    (batch,) = client.get("/summarystats").get_json()["rejected"]
    errors = {f["name"]: f["error"] for f in batch["files"]}
    assert (
        set(errors) == {"broken.csv", "floats.csv"} and "missing column(s)" in errors["broken.csv"]
    )
    assert "non-integer lastmonth_activity: 2" in errors["floats.csv"]
    assert batch["rows"] == 2
    assert batch["reasons"] == {
        "non-numeric lastmonth_activity": 1,
        "negative lastyear_activity": 1,
    }
    words = "broken.csv rejected (missing column(s)"
    rows = (
        "2 invalid rows dropped (non-numeric lastmonth_activity: 1, negative lastyear_activity: 1)"
    )
    for page in ("/", "/runs"):
        html = " ".join(client.get(page).get_data(as_text=True).split())
        assert words in html and rows in html and "floats.csv rejected (" in html, page
    pdf = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(ran["output_model_path"] / "summary_report.pdf").pages
    )
    assert "Rejected data" in pdf and words in pdf and rows in pdf


# ---- rows kept but not trained on: a feature added to an installation's schema -----------

TENURE_HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,tenure,exited"


def with_tenure(rows: list[tuple]) -> list[tuple]:
    """The course's rows with a tenure column (years) before the target."""
    return [(*r[:4], 1 + i % 9, r[4]) for i, r in enumerate(rows)]


def not_trained_shown(client) -> tuple[int, str]:
    """The dashboard's rows_not_trained figure and its sentence ('' when there is none)."""
    html = " ".join(client.get("/").get_data(as_text=True).split())
    figure = re.search(r'data-key="rows_not_trained">([\d,]+)<', html)
    sentence = re.search(r'<p class="notice" id="not-trained">([^<]*)</p>', html)
    return int(figure.group(1).replace(",", "")), sentence.group(1) if sentence else ""


@pytest.fixture
def widened(workspace) -> tuple[dict, dict, int]:
    """An installation deployed under the course's columns, whose schema then gains the
    required feature tenure: new data and test data carry it, a model of the new schema is
    deployed. Returns (the old config, the new one, ingestion's rows_not_trained)."""
    from risk_assessment.deployment import versions as deployment
    from risk_assessment.modelling import scoring, training
    from risk_assessment.sources import ingestion

    old = configure(workspace)
    deploy_workspace(old)
    spec = json.loads((workspace / "config.json").read_text(encoding="utf-8"))
    schema = old["schema"].to_dict()
    schema["features"] = {**schema["features"], "tenure": {"type": "integer", "min": 0}}
    (workspace / "config.json").write_text(json.dumps({**spec, "schema": schema}), "utf-8")
    new = load_config(workspace / "config.json")
    write_csv(
        old["input_folder_path"] / "dataset3.csv", with_tenure(small_rows(45, 300)), TENURE_HEADER
    )
    test_file = old["test_data_path"] / "testdata.csv"
    write_csv(test_file, with_tenure(small_rows(15, 100)), TENURE_HEADER)
    result = ingestion.run_ingestion(new)
    training.run_training(new)
    scoring.run_scoring(new)
    deployment.deploy(new)
    return old, new, result.metrics["rows_not_trained"]


def test_the_dashboard_and_summarystats_say_how_many_rows_are_not_trained_on(widened):
    """The 40 rows stored under the course's columns lack tenure: the dashboard's numbers
    and /summarystats count them (as ingestion did) and one sentence names the column."""
    _, new, ingested = widened
    client = create_app(new).test_client()
    figure, sentence = not_trained_shown(client)
    stats = client.get("/summarystats").get_json()
    counts = stats["counts"]
    assert ingested == figure == counts["rows_not_trained"] == 40
    # the training set (finaldata.csv) is the 45 rows with tenure, not the 40 without
    assert counts["labelled_rows"] == stats["rows"] == 45 and counts["rows_kept"] == 85
    words = "40 stored rows lack a column the current schema needs (tenure): kept, not trained on."
    assert sentence == words
    reporting.run_reporting(new)
    pdf = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(new["output_model_path"] / "summary_report.pdf").pages
    )
    assert f"{numbers.LABELS['rows_not_trained']} 40" in pdf and words in pdf


def test_the_count_follows_a_new_ingestion(widened):
    """The served app has shown 40; a cron still on the old config.json stores 12 more rows
    without tenure: the same app's dashboard now says 52 (its cache follows the store)."""
    from risk_assessment.sources import ingestion

    old, new, _ = widened
    client = create_app(new).test_client()
    assert not_trained_shown(client)[0] == 40
    write_csv(old["input_folder_path"] / "dataset4.csv", small_rows(12, 400))
    assert ingestion.run_ingestion(old).metrics["rows_kept"] == 12
    figure, sentence = not_trained_shown(client)
    assert figure == 52 and sentence.startswith("52 stored rows lack a column")


def test_without_such_rows_there_is_no_sentence(ran):
    """Every stored row fits the schema: the count is 0 and the dashboard says nothing."""
    client = create_app(ran).test_client()
    assert not_trained_shown(client) == (0, "")
    assert client.get("/summarystats").get_json()["counts"]["rows_not_trained"] == 0
    assert "not trained on." not in client.get("/").get_data(as_text=True)


def test_a_previous_version_of_other_columns_is_named_not_compared(widened):
    """v0001 read the course's columns, the live v0002 reads tenure too: the dashboard says
    the previous version was not compared, not that there was none."""
    _, new, _ = widened
    html = " ".join(create_app(new).test_client().get("/").get_data(as_text=True).split())
    previous = re.search(r'<p class="muted" id="previous">([^<]*)</p>', html)
    assert previous and previous.group(1).startswith("Previous version v0001: not compared")
    assert "First deployed version" not in html
