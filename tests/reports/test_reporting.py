"""Reporting: the confusion-matrix PNG and the PDF report of the deployed model."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from risk_assessment.core.common import SCORE_FILE, ModelError
from risk_assessment.deployment.versions import load_deployed, load_deployed_version
from risk_assessment.pipeline import run as fullprocess
from risk_assessment.reports import model_health, reporting, risk
from risk_assessment.reports import pdf as report_pdf
from risk_assessment.schema import dataset
from tests.conftest import configure, run_script, small_rows, write_csv

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pdf_text(path) -> str:
    """All text of a PDF, pages joined."""
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_confusion_matrix_png_is_valid_and_labelled(reportable):
    """confusionmatrix.png is a real PNG of the deployed model's matrix."""
    paths = reporting.run_reporting(reportable)
    png = paths["confusion_matrix"].read_bytes()
    assert paths["confusion_matrix"].name == "confusionmatrix.png"
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_confusion_figure_shows_the_counts():
    """The heatmap's cell annotations are the four counts, with axis labels."""
    fig = reporting.confusion_figure({"tn": 7, "fp": 2, "fn": 3, "tp": 5}, "t")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["2", "3", "5", "7"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "actual"


def test_pdf_holds_the_expected_figures(reportable):
    """The PDF names the version, the F1, the summary stats, timings and ingested files."""
    paths = reporting.run_reporting(reportable)
    data = paths["report"].read_bytes()
    assert data.startswith(b"%PDF")
    text = pdf_text(paths["report"])
    f1 = float((reportable["prod_deployment_path"] / SCORE_FILE).read_text())
    assert "v0001" in text
    assert f"{f1:.4f}" in text
    for word in (
        "ROC AUC",
        "precision",
        "recall",
        "confusion matrix",
        "activity last month",  # the feature in its words (schema label)
        "missing",
        "Timings",
        "dataset1.csv",
        "dataset2.csv",
        "pandas",
        "index unreachable",
    ):
        assert word in text, word
    summary = reporting.report_facts(reportable)["summary"]
    assert f"{summary['number_of_employees']['mean']:.2f}" in text


def test_no_deployed_model_is_a_clear_error(config):
    """Reporting before any deployment says to run deployment.py, writing nothing."""
    with pytest.raises(ModelError, match="run deployment.py"):
        reporting.run_reporting(config)
    assert not (config["output_model_path"] / "summary_report.pdf").exists()


def test_cli_writes_both_files(reportable, workspace):
    """`python reporting.py` exits 0 and writes the PNG and the PDF."""
    done = run_script("reporting.py", "--config", str(workspace / "config.json"))
    assert done.returncode == 0, done.stderr
    assert (reportable["output_model_path"] / "summary_report.pdf").stat().st_size > 0


@pytest.mark.parametrize(
    "package, cell",
    [
        (
            {
                "latest": "2.5.5",
                "installed": "2.4.6",
                "outdated": False,
                "latest_requires_python": ">=3.12",
            },
            "2.5.5 (needs Python >=3.12)",
        ),
        (
            {
                "latest": "2.5.5",
                "installed": "2.4.6",
                "outdated": True,
                "latest_requires_python": ">=3.9",
            },
            "2.5.5",
        ),
        (
            {"latest": None, "latest_unknown_reason": "index unreachable"},
            "unknown (index unreachable)",
        ),
    ],
)
def test_latest_cell_says_why_an_upgrade_is_not_possible(package, cell):
    """The report's 'latest' cell: the version, the Python it needs, or why unknown."""
    assert report_pdf.latest_cell(package) == cell


# --- the executive summary (page 1) and the layout ---------------------------------------------


def page_texts(path) -> list[str]:
    """The text of each page of a PDF."""
    return [page.extract_text() for page in PdfReader(path).pages]


def test_summary_page_states_the_figures(reportable):
    """Page 1: the serving model, its F1 and interval, the band counts, the top 10 with their
    plain reasons, and the drift line; the figures are those computed independently."""
    paths = reporting.run_reporting(reportable)
    first = page_texts(paths["report"])[0]
    model, manifest = load_deployed(reportable["prod_deployment_path"])
    test = dataset.load_dataset(reportable["test_data_path"] / "testdata.csv")
    s = model_health.scores_with_interval(model, test)
    first = " ".join(first.split())
    assert "Attrition risk: executive summary" in first
    assert "Model v0001 makes the list since" in first and "deployed by hand" in first
    assert f"v0001 serving {s['f1']:.3f} {s['f1_low']:.2f} to {s['f1_high']:.2f}" in first
    table = reporting.deployed_risk_table(reportable)[0]
    bands = table["risk_band"].value_counts()
    assert (
        f"{len(table)} current clients: {bands.get('high', 0)} high, "
        f"{bands.get('medium', 0)} medium, {bands.get('low', 0)} low risk." in first
    )
    flat = " ".join(first.split())
    for r in table.head(6).to_dict(orient="records"):  # this week's first calls
        assert f"{r['rank']} {r['corporation']} {risk.percent(r['exit_probability'])}" in flat
        for reason in filter(None, r["top_reasons"].split("; ")):
            assert reason in flat
    assert "No batch of new clients has been judged for drift yet." in flat


def test_every_page_is_numbered(reportable):
    """Each page says 'Page n of N'."""
    pages = page_texts(reporting.run_reporting(reportable)["report"])
    assert len(pages) >= 3
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text


def test_hyperparameters_are_the_models_own(reportable):
    """The appendix lists the model's parameters, not the training settings around it."""
    text = pdf_text(reporting.run_reporting(reportable)["report"])
    assert "LogisticRegression(" in text and "max_iter=1000" in text
    for setting in ("min_rows", "scale_features"):
        assert setting not in text


def test_a_redeployment_says_why_with_both_versions(deployed, workspace):
    """After fullprocess retrains and deploys v0002, page 1 says it replaced v0001 after
    model drift, compares both F1s on the same test data, and the deploying run is in the
    report's history of judged batches."""
    config = configure(
        workspace,
        model_drift={"min_batch_rows": 0, "require_significance": False},
        deployment={"force": True},
    )
    flipped = [(*r[:4], 1 - r[4]) for r in small_rows(30, 300)]
    write_csv(workspace / "practicedata" / "dataset3.csv", flipped)
    run = fullprocess.run_once(config)
    assert run.decision == "deployed" and run.new_version == "v0002"
    pages = page_texts(config["output_model_path"] / "summary_report.pdf")
    flat = " ".join(pages[0].split())
    assert "v0002 replaced v0001 because" in flat or "replacing v0001, because" in flat, flat[:900]
    assert "It replaced v0001 after model drift" in " ".join(" ".join(pages).split())
    test = dataset.load_dataset(config["test_data_path"] / "testdata.csv")
    old, _ = load_deployed_version(config["prod_deployment_path"] / "versions" / "v0001")
    s = model_health.scores_with_interval(old, test)
    assert f"v0001 previous {s['f1']:.3f} {s['f1_low']:.2f} to {s['f1_high']:.2f}" in flat
    assert f"{run.batch_f1:.2f}" in " ".join(pages)  # the statistics: in the appendix
    health = " ".join(pages[1].split())
    assert "this run" in health and f"{run.batch_f1:.3f}" in health


def test_model_text_names_the_steps_and_the_cut_off():
    """A FixedThresholdClassifier around log1p -> scaler -> LR reads as its steps,
    the classifier's own parameters and the cut-off."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from tests.conftest import COLUMNS, FEATURES, TARGET  # the default schema's columns

    data = pd.DataFrame(small_rows(30), columns=COLUMNS)
    pipe = Pipeline(
        [
            ("transform", FunctionTransformer(np.log1p)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=0.5, solver="liblinear")),
        ]
    )
    model = FixedThresholdClassifier(pipe, threshold=0.35).fit(data[FEATURES], data[TARGET])
    text = report_pdf.model_text(model)
    assert text.startswith("transform: log1p; scale: StandardScaler; LogisticRegression(C=0.5")
    assert text.endswith("; cut-off 0.35")


def test_model_text_names_a_users_input_step_by_its_scikit_learn_class(tmp_path):
    """A model trained on a schema with categories reads 'columns: ColumnTransformer',
    not the project's own subclass of it (RowStack)."""
    import numpy as np
    import pandas as pd

    from risk_assessment.core.columns import parse_schema
    from risk_assessment.core.settings import DEFAULTS
    from risk_assessment.modelling import training

    schema = parse_schema({"id": "acct", "target": "churn", "features": {
        "seats": {"type": "integer", "min": 0}, "plan": {"type": "category"}}})  # fmt: skip
    data = pd.DataFrame({"seats": np.arange(40), "plan": ["pro", "basic"] * 20,
                         "churn": [0, 1, 1, 0] * 10})  # fmt: skip
    model, _ = training.train_model(data, DEFAULTS["training"], schema=schema)
    text = report_pdf.model_text(model)
    assert text.startswith("columns: ColumnTransformer; ") and "RowStack" not in text


def test_the_report_bands_psi_as_diagnostics_does():
    """A PSI of exactly 0.25 is 'significant' in diagnostics, the drift line and the table."""
    from reportlab.platypus import Table

    from risk_assessment.reports import diagnostics
    from risk_assessment.reports import text as report_text

    psi = {"a": 0.25, "b": 0.1, "c": 0.05}
    run = {"data_drift_psi": psi, "new_rows": 7, "started_at": "2026-11-26T10:00:00+00:00"}
    facts = {"judged": [run], "model_meta": {}}
    assert [diagnostics.psi_band(v) for v in psi.values()] == ["significant", "moderate", "none"]
    assert "significant shift in 1 of 3 features" in report_text.drift_text(facts)
    flow = list(report_pdf.drift_section(facts, report_pdf.styles()))
    while not any(isinstance(f, Table) for f in flow):  # open KeepTogether and the like
        flow = [g for f in flow for g in getattr(f, "_content", [])]
    cells = next(f for f in flow if isinstance(f, Table))._cellvalues
    assert [row[2] for row in cells[1:]] == ["significant", "moderate", "none"]
