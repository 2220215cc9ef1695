"""Reporting: the confusion-matrix PNG and the PDF report of the deployed model."""

from __future__ import annotations

import pytest
from conftest import run_script
from pypdf import PdfReader

import reporting
from common import SCORE_FILE, ModelError

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
        "Confusion matrix",
        "lastmonth_activity",
        "missing share",
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
    assert reporting.latest_cell(package) == cell
