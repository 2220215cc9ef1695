"""The data scientist's facts: effects that match the model's coefficients, a reliability
table on labelled data, the label-free estimate; the /model page and the PDF show them."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pypdf import PdfReader

from risk_assessment.deployment.versions import load_deployed, read_model_meta
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import effects, risk
from risk_assessment.schema import dataset
from risk_assessment.server.app import create_app
from tests.conftest import FEATURES, TARGET, write_csv  # the default schema's columns
from tests.reports.test_risk import RISKY


@pytest.fixture
def ran(config) -> dict:
    """fullprocess deployed v0001 over the workspace and the RISKY current clients."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY)
    assert fullprocess.run_once(config).new_version == "v0001"
    return config


def test_effects_match_the_models_coefficients(ran):
    """Per feature, the standardised coefficient is the model's own (after its scaler),
    the odds ratio its exponential, the direction its sign; /model and the PDF show it."""
    model, manifest = load_deployed(ran["prod_deployment_path"])
    head, lr = risk.model_parts(model)
    assert head is not None  # the schema's ColumnTransformer, numbers scaled
    found = {e["feature"]: e for e in effects.effects(model, {}, ran["schema"])}
    for f, c in zip(FEATURES, lr.coef_[0], strict=True):
        assert found[f]["per_sd"] == pytest.approx(c)
        assert found[f]["odds_ratio"] == pytest.approx(np.exp(c))
        assert ("higher" if c > 0 else "lower") in found[f]["direction"]
    html = create_app(ran).test_client().get("/model").get_data(as_text=True)
    shown = dict(re.findall(r'data-feature="(\w+)">([-+.\d]+)<', html))
    assert {f: float(v) for f, v in shown.items()} == pytest.approx(
        {f: round(float(c), 3) for f, c in zip(FEATURES, lr.coef_[0], strict=True)}, abs=1e-3
    )
    pdf = " ".join(
        " ".join(p.extract_text().split())
        for p in PdfReader(ran["output_model_path"] / "summary_report.pdf").pages
    )
    assert "What the model learnt" in pdf and f"{lr.coef_[0][0]:+.3f}" in pdf


def test_reliability_bins_hold_every_labelled_row(ran):
    """The reliability table covers the labelled rows once; each bin's mean prediction lies
    inside it; the page draws the plot."""
    model, _ = load_deployed(ran["prod_deployment_path"])
    test = dataset.load_dataset(ran["test_data_path"] / "testdata.csv")
    bins = effects.reliability(model, test, ran["schema"])
    assert sum(b["clients"] for b in bins) == len(test)
    assert all(b["low"] <= b["predicted"] <= b["high"] for b in bins)
    observed = sum(b["observed"] * b["clients"] for b in bins)
    assert observed == pytest.approx(test[TARGET].sum())
    html = create_app(ran).test_client().get("/model").get_data(as_text=True)
    assert 'id="reliability"' in html and "<circle" in html


def test_label_free_estimate_whenever_current_clients_exist(ran):
    """With current clients the page states an estimated F1; the estimate of certain
    probabilities is exact; with none it says why."""
    html = create_app(ran).test_client().get("/model").get_data(as_text=True)
    assert re.search(r"expect\s+F1 about <b>[01]\.\d{3}</b>", html)
    exact = effects.label_free_estimate(np.array([1.0, 1.0, 0.0, 0.0]), 0.5)
    assert exact["f1"] == 1.0 and exact["flagged"] == 2
    assert effects.label_free_estimate(np.array([]), 0.5)["reason"]
    assert read_model_meta(ran["prod_deployment_path"] / "current")["rows"] > 0
