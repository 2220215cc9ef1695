"""One set of numbers: each count is computed once (reports/numbers.py) and the PDF, the
dashboard and /summarystats show the same figure."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from risk_assessment.deployment.versions import read_model_meta
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import numbers, reporting
from risk_assessment.server.app import create_app
from tests.conftest import small_rows, write_csv


@pytest.fixture
def ran(config) -> dict:
    """fullprocess ran once over the workspace plus a file with 2 invalid rows among 20, a
    file rejected whole (no usable header) and one whose every row is invalid."""
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
