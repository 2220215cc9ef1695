"""Reporting: confusion-matrix plot and a PDF summary report of the deployed model.

Reads   the deployed model and its manifest, scores and ingestion record
        (prod_deployment_path/current), test_data_path/testdata.csv, finaldata.csv,
        the dependency table (diagnostics.py's cache, refreshed when older than a day)
Writes  output_model_path/confusionmatrix.png
        output_model_path/summary_report.pdf
Run     python reporting.py [--config config.json]
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import seaborn as sns
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

import diagnostics
import ingestion
from common import (
    FINALDATA,
    INGESTION_RECORD,
    MODEL_META,
    cli_parser,
    load_config,
    now_iso,
    read_json,
    run_cli,
    write_atomic,
)
from deployment import load_deployed
from scoring import score_model, test_data_file

log = logging.getLogger("reporting")

CONFUSION_PNG = "confusionmatrix.png"
REPORT_PDF = "summary_report.pdf"
METRICS = {
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "rows": "test rows",
    "positives": "actual exits",
}


def confusion_figure(matrix: dict[str, int], title: str) -> Figure:
    """A labelled heatmap of a 2x2 confusion matrix with counts in the cells."""
    cells = [[matrix["tn"], matrix["fp"]], [matrix["fn"], matrix["tp"]]]
    fig = Figure(figsize=(5, 4.2), dpi=120)
    ax = fig.subplots()
    sns.heatmap(
        cells,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=True,
        ax=ax,
        xticklabels=["stays (0)", "exits (1)"],
        yticklabels=["stayed (0)", "exited (1)"],
        annot_kws={"size": 14},
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def report_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Everything the report shows, computed from the deployed model and the records."""
    model, manifest = load_deployed(config["prod_deployment_path"])
    folder = Path(manifest["folder"])
    test_path = test_data_file(config["test_data_path"])
    data = ingestion.load_dataset(config["output_folder_path"] / FINALDATA)
    record = read_json(folder / INGESTION_RECORD, {}) or {}
    return {
        "date": now_iso(),
        "manifest": manifest,
        "model_meta": read_json(folder / MODEL_META, {}) or {},
        "test_data": test_path.name,
        "scores": score_model(model, ingestion.load_dataset(test_path)),
        "summary": diagnostics.dataframe_summary(data),
        "missing": diagnostics.missing_data(data),
        "timings": diagnostics.recorded_timings(config),
        "dependencies": diagnostics.dependencies_for(config),
        "last_ingestion": (record.get("runs") or [{}])[-1],
        "ingested_files": record.get("files", []),
    }


def number(x: Any, digits: int = 4) -> str:
    """A table cell for a number (or n/a)."""
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    """A report table: bold header row, light grid, zebra rows."""
    wrap = getSampleStyleSheet()["BodyText"].clone("cell", fontSize=9, leading=11)
    cells = [[Paragraph(str(c), wrap) if len(str(c)) > 40 else str(c) for c in row] for row in rows]
    t = Table(cells, colWidths=widths, hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def section(title: str, styles, *content) -> KeepTogether:
    """A heading and its content, kept on one page."""
    return KeepTogether([Paragraph(title, styles["Heading2"]), *content, Spacer(1, 6)])


def model_section(facts: dict[str, Any], styles) -> list:
    """Model version, training data and every scoring metric."""
    m, meta, s = facts["manifest"], facts["model_meta"], facts["scores"]
    about = [
        ["model version", m["version"]],
        ["deployed at", m["deployed_at"]],
        ["model sha256", m["model_sha256"][:16] + "..."],
        ["trained at", meta.get("trained_at", "n/a")],
        [
            "training data",
            f"{Path(meta.get('training_data', '?')).name}, "
            f"{meta.get('rows', '?')} rows, exit rate {number(meta.get('exit_rate'))}",
        ],
        [
            "hyperparameters",
            ", ".join(f"{k}={v}" for k, v in meta.get("hyperparameters", {}).items()),
        ],
    ]
    metrics = [["metric", "value"]] + [[label, number(s[k])] for k, label in METRICS.items()]
    return [
        section("Model", styles, table(about, [4 * cm, 13 * cm])),
        section(f"Scores on {facts['test_data']}", styles, table(metrics, [4 * cm, 4 * cm])),
    ]


def data_section(facts: dict[str, Any], styles) -> list:
    """Summary statistics, missing data, timings and the last ingestion."""
    summary = [["feature", "mean", "median", "std"]] + [
        [f, number(d["mean"], 2), number(d["median"], 2), number(d["std"], 2)]
        for f, d in facts["summary"].items()
    ]
    missing = [["column", "missing share"]] + [[c, f"{v:.1%}"] for c, v in facts["missing"].items()]
    t = facts["timings"]
    timings = [
        ["step", "seconds", "when"],
        ["ingestion", number(t["ingestion_seconds"]), t["ingestion_time"] or "n/a"],
        ["training", number(t["training_seconds"]), t["training_time"] or "n/a"],
    ]
    last = facts["last_ingestion"]
    files = [["file", "status", "rows read", "kept", "rejected", "new"]] + [
        [e["name"], e["status"], e["rows_read"], e["rows_kept"], e["rows_rejected"], e["rows_new"]]
        for e in facts["ingested_files"]
        if e["name"] in last.get("files_ingested", []) + last.get("files_rejected", [])
    ]
    return [
        section(
            "Training data (finaldata.csv)", styles, table(summary), Spacer(1, 6), table(missing)
        ),
        section("Timings of the last runs", styles, table(timings)),
        section(
            f"Last ingestion ({last.get('time', 'n/a')}, "
            f"{last.get('rows_total', 'n/a')} rows in total)",
            styles,
            table(files),
        ),
    ]


def dependency_section(facts: dict[str, Any], styles) -> list:
    """The pinned / installed / latest table of the dependencies."""
    deps = facts["dependencies"]
    rows = [["package", "pinned", "installed", "latest"]] + [
        [
            p["package"],
            p["pinned"],
            p["installed"] or "missing",
            p["latest"] or f"unknown ({p['latest_unknown_reason']})",
        ]
        for p in deps["packages"]
    ]
    return [section(f"Dependencies (checked {deps['checked_at']})", styles, table(rows))]


def build_report(facts: dict[str, Any], confusion_png: bytes) -> bytes:
    """The PDF report as bytes."""
    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        title="Attrition risk model report",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
    )
    story = [
        Paragraph("Attrition risk model: summary report", styles["Title"]),
        Paragraph(f"Generated {facts['date']}", styles["Normal"]),
        *model_section(facts, styles),
        section(
            "Confusion matrix",
            styles,
            Image(io.BytesIO(confusion_png), width=10 * cm, height=8.4 * cm, hAlign="LEFT"),
        ),
        *data_section(facts, styles),
        *dependency_section(facts, styles),
    ]
    doc.build(story)
    return buf.getvalue()


def run_reporting(config: dict[str, Any]) -> dict[str, Path]:
    """Write the confusion matrix PNG and the PDF report; used by fullprocess.py too."""
    facts = report_facts(config)
    title = f"Model {facts['manifest']['version']} on {facts['test_data']}"
    png = figure_png(confusion_figure(facts["scores"]["confusion_matrix"], title))
    folder = config["output_model_path"]
    paths = {
        "confusion_matrix": write_atomic(folder / CONFUSION_PNG, png),
        "report": write_atomic(folder / REPORT_PDF, build_report(facts, png)),
    }
    log.info(
        "wrote %s and %s for model %s (F1 %.4f)",
        paths["confusion_matrix"],
        paths["report"],
        facts["manifest"]["version"],
        facts["scores"]["f1"],
    )
    return paths


def main() -> int:
    """Write the plot and the report for the deployed model."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    run_reporting(load_config(args.config))
    return 0


if __name__ == "__main__":
    run_cli(main, "reporting")
