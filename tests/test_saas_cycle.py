"""The whole cycle on the SaaS example (examples/saas: ten features of four types, text
labels, a value column, an alias): fullprocess deploys, the drifting batch is judged,
retrained and deployed with the drifted category named; the risk list, /calls, the client
page, the dashboard and the PDF speak in the schema's columns and labels."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from pypdf import PdfReader

from risk_assessment.pipeline import run as fullprocess
from risk_assessment.samples import saas
from risk_assessment.server.app import create_app
from tests.conftest import ROOT, configure

pytestmark = pytest.mark.slow


@pytest.fixture
def example(tmp_path):
    """The SaaS example's files and config.json in a temporary project folder."""
    for name, text in saas.example_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    shutil.copy(ROOT / "examples" / "saas" / "config.json", tmp_path / "config.json")
    return configure(tmp_path)


def pdf_text(config) -> str:
    """The report's text, whitespace folded."""
    pages = PdfReader(config["output_model_path"] / "summary_report.pdf").pages
    return " ".join(" ".join(p.extract_text().split()) for p in pages)


def test_the_saas_example_from_first_model_to_drift(example):
    """v0001 on the first half-year; the drifted batch retrains and deploys v0002, and the
    verdict names the industry (and its new level); every reader sees the schema's words."""
    first = fullprocess.run_once(example)
    assert first.new_version == "v0001", first.reason
    batch = next((example["input_folder_path"].parent / "sourcedata").glob("*.csv"))
    shutil.copy(batch, example["input_folder_path"] / batch.name)
    second = fullprocess.run_once(example)
    assert second.new_version == "v0002", second.reason
    assert "drift in industry" in second.reason and "mining" in second.reason
    assert "months as a client PSI" in second.reason and "tenure_months" not in second.reason
    meta = json.loads(
        (example["prod_deployment_path"] / "current" / "trainedmodel.json").read_text()
    )
    assert meta["schema"]["id"] == "account" and "industry" in meta["schema"]["features"]
    client = create_app(example).test_client()
    calls = client.get("/calls").get_json()
    assert calls["ordered_by"].startswith("value at risk")
    values = [c["value_at_risk"] for c in calls["calls"]]
    assert values == sorted(values, reverse=True) and all(c["account"] for c in calls["calls"])
    top = calls["calls"][0]["account"]
    assert client.get(f"/risk/{top}").status_code == 200
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "satisfaction (NPS)" in page or "licensed seats" in page
    model_page = client.get("/model").get_data(as_text=True)
    assert "Value at risk" in page and "than its other levels" in model_page
    assert "months as a client p " in model_page and "tenure_months p " not in model_page
    answer = client.get(f"/client/{top}", headers={"Accept": "text/html"})
    assert answer.status_code == 200
    # ten features: the observations scroll inside their card; a boolean reads yes/no
    page = answer.get_data(as_text=True)
    assert '<div class="scroll"><table class="stack" id="observations">' in page
    assert re.search(r'data-label="auto-renewal">(yes|no)</td>', page)
    # the client manager sees what the client is worth and how much of it is at risk
    at_risk = f"{calls['calls'][0]['value_at_risk']:,.0f}"
    assert f'<p id="value-at-risk">Value at risk <strong>{at_risk}</strong>' in page
    assert "annual_contract_value (" in page and "by chance of exiting" in page
    by_value = client.get("/risk?order=value&top=5").get_json()["clients"]
    assert by_value[0]["value_at_risk"] >= by_value[-1]["value_at_risk"]
    report = pdf_text(example)
    # the data scientist's part starts on the page of its first table, and the band
    # column is wide enough for "medium"
    pages = PdfReader(example["output_model_path"] / "summary_report.pdf").pages
    texts = [" ".join(p.extract_text().split()) for p in pages]
    part = next(t for t in texts if "For the data scientist" in t)
    assert "What the model learnt" in part
    assert " medium " in report and "medi um" not in report
    assert "industry" in report and "Value at risk in the high band" in report
