"""The PDF's first page speaks to people who decide: the decision in words, this week's
calls, quality as people count, expected exits; no p-value, log-loss or test name."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import plain
from risk_assessment.server.app import create_app
from tests.conftest import configure, small_rows, write_csv

STATISTICS = re.compile(r"\bp [0-9<=]|p-value|log-loss|chi-square|Holm|90% interval")


def pages(config: dict) -> list[str]:
    """The text of each page of the written report, whitespace folded."""
    reader = PdfReader(config["output_model_path"] / "summary_report.pdf")
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.fixture
def redeployed(workspace) -> dict:
    """fullprocess deployed v0001, then v0002 after a batch whose labels flipped."""
    config = configure(
        workspace,
        model_drift={"min_batch_rows": 0, "require_significance": False},
        deployment={"force": True},
        risk={"calls_per_week": 4},
    )
    assert fullprocess.run_once(config).new_version == "v0001"
    flipped = [(*r[:4], 1 - r[4]) for r in small_rows(30, 300)]
    write_csv(workspace / "practicedata" / "dataset3.csv", flipped)
    assert fullprocess.run_once(config).new_version == "v0002"
    return config


def test_first_page_has_no_statistics_and_the_appendix_has_them(redeployed):
    """Page 1 holds no p-value, log-loss or test name; the appendix states the decision's
    statistics; the only interval level anywhere is 95%."""
    text = pages(redeployed)
    assert not STATISTICS.search(text[0]), STATISTICS.search(text[0])
    assert "Why this model, in statistics" in " ".join(text[1:])
    assert "90% interval" not in " ".join(text)


def test_first_page_leads_with_words_and_this_weeks_calls(redeployed):
    """Page 1: what was decided (in words), this week's 4 calls, quality as people count,
    the expected exits with their 95% interval."""
    first = pages(redeployed)[0]
    assert first.index("What was decided") < first.index("This week's calls")
    assert "This week's calls: the first 4 of 4, by exit probability" in first
    assert re.search(r"Of every 10 clients who leave, the model flags about \d+", first)
    assert re.search(r"of every 10 it flags, about \d+ leave", first)
    assert re.search(r"about [\d,]+ are expected to leave \(95% interval [\d,]+ to [\d,]+\)", first)


def test_expected_exits_interval_holds_the_mean():
    """Expected exits: the sum of probabilities, inside its 95% interval, within [0, n]."""
    exits = plain.expected_exits([0.5] * 100)
    assert exits["expected"] == 50 and exits["low"] < 50 < exits["high"] <= 100
    assert plain.expected_exits([0.0, 1.0])["low"] >= 0
    assert plain.expected_exits([])["clients"] == 0


def test_drift_states_the_test_that_decided_with_psi_as_a_size(redeployed):
    """The drift section names the test, its per-feature result and PSI as a size; page 1
    says it in words; the dashboard's drift table shows the test's verdict per feature."""
    text = pages(redeployed)
    rest = " ".join(text[1:])
    assert "the binned chi-square test against the training deciles (Holm-adjusted p)" in rest
    assert "PSI, a size only" in rest
    assert "The last batch (30 new clients" in text[0]
    html = create_app(redeployed).test_client().get("/").get_data(as_text=True)
    assert 'data-label="test says">' in html and 'data-label="p (Holm)">' in html
    assert re.search(r"Label-free estimate on the [\d,]+ current clients: F1 about", html)


def test_each_run_reads_in_words():
    """Why a run did what it did, without its statistics."""
    assert plain.run_words({"decision": "no drift", "batch_f1": None}).startswith("too few")
    assert "as well as before" in plain.run_words({"decision": "no drift", "batch_f1": 0.7})
    first = {"decision": "deployed", "deployed_version": None}
    assert (
        plain.run_words(first)
        == "deployed because it is the first model: no model was deployed yet"
    )
    caught = {"rows": 600, "exits": 200, "candidate": 170, "deployed": 85}
    run = {
        "decision": "deployed",
        "deployed_version": "v0001",
        "gate": {"holdout": {"caught": caught}},
    }
    assert "it would have caught 85 more of the 200 who left" in plain.run_words(run)
    assert plain.run_words({"decision": "refused"}).startswith("a retrained model was not better")
