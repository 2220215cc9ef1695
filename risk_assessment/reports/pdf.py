"""The PDF report's layout: page 1 an executive summary for stakeholders, then model
health, data drift and the top of the risk list; dependencies and timings in an appendix.

A helper of reporting.py (which gathers the facts and writes the file): build_report()
turns facts into PDF bytes and reads or writes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from risk_assessment.core.common import METRIC_LABELS, format_number

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from risk_assessment.reports import risk
from risk_assessment.reports.diagnostics import psi_band
from risk_assessment.reports.numbers import counts_rows
from risk_assessment.reports.outcomes import calls_sentences
from risk_assessment.reports.pdf_blocks import fonts, paragraph, section, styles, table
from risk_assessment.reports.pdf_front import calls_table, summary_page
from risk_assessment.reports.pdf_science import rejected_section, science_section
from risk_assessment.reports.text import count, decision_text, drift_text, when

MODEL_PARAMS = ("C", "penalty", "solver", "max_iter", "class_weight", "random_state")
ROW_COUNTS = ("rows_read", "rows_kept", "rows_rejected", "rows_new")  # an ingested file's


# ---- words and numbers -----------------------------------------------------------------------


def step_name(step) -> str:
    """'StandardScaler', 'log1p' for a FunctionTransformer of np.log1p, 'none' if skipped;
    a project's subclass of a scikit-learn step by the scikit-learn class it is (the
    input step's RowStack reads as ColumnTransformer: a reader knows that one)."""
    if step in (None, "passthrough"):
        return "none"
    func = getattr(step, "func", None)
    known = [c for c in type(step).__mro__ if c.__module__.split(".")[0] == "sklearn"]
    return getattr(func, "__name__", None) or (known[0] if known else type(step)).__name__


def model_text(model) -> str:
    """The model's own steps and hyperparameters (nothing about the pipeline's settings)."""
    head, lr = risk.model_parts(model)
    steps = [] if head is None else [f"{name}: {step_name(step)}" for name, step in head.steps]
    params = lr.get_params(deep=False)
    own = ", ".join(
        f"{k}={params[k]}" for k in MODEL_PARAMS if params.get(k) not in (None, "deprecated")
    )
    threshold = getattr(model, "threshold", None)
    cut = [f"cut-off {threshold}"] if isinstance(threshold, (int, float)) else []
    return "; ".join([*steps, f"{type(lr).__name__}({own})", *cut])


# ---- the pages (page 1 is pdf_front.py) ---------------------------------------------------


def scores_side(facts: dict[str, Any], st, confusion_png: bytes) -> Table:
    """Every metric (and the F1 interval) beside the confusion matrix."""
    s = facts["scores"]
    metrics = [["metric", "value"]] + [
        [label, format_number(s[k])] for k, label in METRIC_LABELS.items()
    ]
    metrics.insert(2, ["F1, 95% interval", f"{s['f1_low']:.4f} to {s['f1_high']:.4f}"])
    return Table(
        [
            [
                table(metrics, [3.4 * cm, 3.2 * cm], st),
                Image(io.BytesIO(confusion_png), width=8.6 * cm, height=7.2 * cm),
            ]
        ],
        colWidths=[7.2 * cm, 9.8 * cm],
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
    )


def batch_rows(judged: list[dict[str, Any]]) -> list[list[Any]]:
    """The table of the last twelve judged batches, header first."""
    header = ["run", "when", "new rows", "batch F1 (95% interval)", "checked against", "decision"]
    return [header] + [
        [
            r["id"],
            when(r["started_at"]),
            count(r["new_rows"]),
            f"{r['batch_f1']:.3f} ({r['batch_f1_low']:.2f} to {r['batch_f1_high']:.2f})",
            f"{r['deployed_version']} ({format_number(r['deployed_f1'], 3)})",
            r["decision"],
        ]
        for r in judged[:12]
    ]


def health_pages(facts: dict[str, Any], st, confusion_png: bytes, history_png: bytes) -> list:
    """Model health: every metric, the confusion matrix, the history, the judged batches."""
    batches = batch_rows(facts["judged"])
    return [
        paragraph("Model health", st["Heading1"]),
        *section(
            f"Scores and confusion matrix on {facts['test_data']}",
            st,
            scores_side(facts, st, confusion_png),
        ),
        *section(
            "Scores by version", st, Image(io.BytesIO(history_png), width=17 * cm, height=7.25 * cm)
        ),
        *section(
            "Judged batches (newest first)",
            st,
            table(batches, [1.6 * cm, 3.6 * cm, 1.7 * cm, 4.0 * cm, 3.3 * cm, 2.8 * cm], st)
            if len(batches) > 1
            else paragraph("None yet.", st["Normal"]),
            keep=False,
        ),
    ]


def drift_section(facts: dict[str, Any], st) -> list:
    """PSI per feature (in the schema's words) of the last judged batch, against the
    training data."""
    run = next((r for r in facts["judged"] if isinstance(r.get("data_drift_psi"), dict)), None)
    if run is None:
        return section("Data drift", st, paragraph(drift_text(facts), st["Normal"]))
    profile, name = facts["model_meta"].get("profile", {}), facts.get("words") or str
    tested = (run.get("verdict") or {}).get("data") or {}
    rows = [["feature", "PSI (size)", "shift", "training mean", "test p (Holm)", "test says"]]
    rows += [
        [
            name(f),
            f"{v:.3f}",
            psi_band(v),
            format_number(profile.get(f, {}).get("mean"), 2),
            f"{tested[f]['p_adjusted']:.2g}" if f in tested else "n/a",
            ("drift" if tested[f].get("drift") else "no drift") if f in tested else "n/a",
        ]
        for f, v in run["data_drift_psi"].items()
    ]
    note = paragraph(
        drift_text(facts)
        + " PSI below 0.1: no shift; 0.1 to below 0.25: moderate; 0.25 or more: significant.",
        st["Normal"],
    )
    return section("Data drift", st, note, Spacer(1, 4), table(rows, None, st))


def model_rows(facts: dict[str, Any], st) -> list[list[Any]]:
    """The appendix's model table: version, deployment, training data and the model."""
    m, meta = facts["manifest"], facts["model_meta"]
    data = Path(meta.get("training_data", "?")).name
    rate = format_number(meta.get("exit_rate"))
    return [
        ["model version", m["version"]],
        ["deployed at", when(m["deployed_at"])],
        ["model sha256", m["model_sha256"][:16] + "..."],
        ["trained at", when(meta.get("trained_at"))],
        ["training data", f"{data}, {count(meta.get('rows', '?'))} rows, exit rate {rate}"],
        ["model", paragraph(model_text(facts["model"]), st["cell"])],
    ]


def data_rows(facts: dict[str, Any]) -> list[list[Any]]:
    """Mean, median, std and missing share of each feature of finaldata.csv (in the
    schema's words), header first."""
    name = facts.get("words") or str
    return [["feature", "mean", "median", "std", "missing"]] + [
        [
            name(f),
            format_number(d["mean"], 2),
            format_number(d["median"], 2),
            format_number(d["std"], 2),
            f"{facts['missing'].get(f, 0):.1%}",
        ]
        for f, d in facts["summary"].items()
    ]


def timing_rows(t: dict[str, Any]) -> list[list[Any]]:
    """Seconds and time of the last ingestion and training runs, header first."""
    return [
        ["step", "seconds", "when"],
        ["ingestion", format_number(t["ingestion_seconds"]), when(t["ingestion_time"])],
        ["training", format_number(t["training_seconds"]), when(t["training_time"])],
    ]


def ingestion_rows(facts: dict[str, Any]) -> list[list[Any]]:
    """The files of the last ingestion with their row counts, header first."""
    last = facts["last_ingestion"]
    names = last.get("files_ingested", []) + last.get("files_rejected", [])
    return [["file", "status", "rows read", "kept", "rejected", "new"]] + [
        [e["name"], e["status"], *(count(e[k]) for k in ROW_COUNTS)]
        for e in facts["ingested_files"]
        if e["name"] in names
    ]


def appendix(facts: dict[str, Any], st) -> list:
    """Model details, training data, timings, the last ingestion, dependencies and the
    comparison of contacted clients with uncontacted ones."""
    about = Table(
        model_rows(facts, st),
        colWidths=[3.5 * cm, 13.5 * cm],
        style=[
            ("FONTNAME", (0, 0), (-1, -1), fonts()[0]),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ],
    )
    last, deps = facts["last_ingestion"], facts["dependencies"]
    packages = [["package", "pinned", "installed", "latest"]] + [
        [p["package"], p["pinned"], p["installed"] or "missing", latest_cell(p)]
        for p in deps["packages"]
    ]
    return [
        paragraph("Appendix", st["Heading1"]),
        *section(
            "Why this model, in statistics", st, paragraph(decision_text(facts), st["Normal"])
        ),
        *section("Model", st, about),
        *section("The numbers", st, *numbers_blocks(facts["week"], st)),
        *section("Training data (finaldata.csv)", st, table(data_rows(facts), None, st)),
        *section("Timings of the last runs", st, table(timing_rows(facts["timings"]), None, st)),
        *section(
            f"Last ingestion ({when(last.get('time'))})", st, table(ingestion_rows(facts), None, st)
        ),
        *section(
            f"Dependencies (checked {when(deps['checked_at'])})",
            st,
            table(packages, None, st),
        ),
        *section(
            "Did the calls help?",
            st,
            *[paragraph(t, st["BodyText"]) for t in calls_sentences(facts.get("calls"))],
        ),
    ]


def numbers_blocks(week: dict[str, Any], st) -> list:
    """The numbers as a table, then the sentence on the stored rows not trained on (if any)."""
    words = week.get("not_trained_words")
    note = [paragraph(words, st["BodyText"])] if words else []
    return [table(counts_rows(week["numbers"]), None, st), *note]


def latest_cell(package: dict[str, Any]) -> str:
    """The 'latest' cell of the dependency table: version, Python it needs, or why unknown."""
    if not package["latest"]:
        return f"unknown ({package['latest_unknown_reason']})"
    needs = package.get("latest_requires_python")
    if needs and package.get("outdated") is False and package["latest"] != package["installed"]:
        return f"{package['latest']} (needs Python {needs})"
    return package["latest"]


class NumberedCanvas(Canvas):
    """A canvas that writes 'Page n of N' at the foot of every page (two passes)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self.pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        for state in self.pages:
            self.__dict__.update(state)
            self.setFont(fonts()[0], 8)
            self.setFillColor(colors.HexColor("#5b6775"))
            self.drawRightString(
                A4[0] - 2 * cm, 1 * cm, f"Page {self._pageNumber} of {len(self.pages)}"
            )
            self.drawString(2 * cm, 1 * cm, "Attrition risk report")
            super().showPage()
        super().save()


def build_report(facts: dict[str, Any], confusion_png: bytes, history_png: bytes) -> bytes:
    """The PDF report as bytes."""
    st = styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        title="Attrition risk report",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.6 * cm,
        bottomMargin=1.8 * cm,
    )
    story = [
        *summary_page(facts, st),
        *health_pages(facts, st, confusion_png, history_png),
        *drift_section(facts, st),
        *section(
            f"This week's calls (all {count(len(facts['week']['calls']))})",
            st,
            calls_table(facts["week"], None, st),
            keep=False,
        ),
        *rejected_section(facts, st),
        *science_section(facts, st),
        *appendix(facts, st),
    ]
    doc.build(story, canvasmaker=NumberedCanvas)
    return buf.getvalue()
