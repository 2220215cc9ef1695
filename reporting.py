"""Reporting: confusion-matrix plot and a PDF summary report of the deployed model.

Reads   the deployed model and its manifest, scores and ingestion record
        (prod_deployment_path/current), test_data_path/testdata.csv, finaldata.csv,
        the dependency table (diagnostics.py's cache, refreshed when older than a day)
Writes  output_model_path/confusionmatrix.png
        output_model_path/summary_report.pdf
        output_model_path/risk_scores.csv   every client ranked by exit probability,
                                            with risk band and top reasons
Run     python reporting.py [--config config.json]          all three
        python reporting.py [--config config.json] --risk   risk_scores.csv only
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
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
import fullprocess
import ingestion
from common import (
    FEATURES,
    FINALDATA,
    ID_COLUMN,
    INGESTION_RECORD,
    MODEL_META,
    SCORES_JSON,
    cli_parser,
    load_config,
    now_iso,
    read_json,
    run_cli,
    write_atomic,
)
from deployment import MANIFEST, VERSIONS, list_versions, load_deployed
from scoring import exit_probabilities, score_model, test_data_file
from training import feature_profile

log = logging.getLogger("reporting")

CONFUSION_PNG = "confusionmatrix.png"
RISK_CSV = "risk_scores.csv"
MIN_REASON = 0.005  # smaller contributions round to +0.00: not a reason worth showing
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


def latest_per_client(data: pd.DataFrame) -> pd.DataFrame:
    """The last row of each corporation (ingestion appends, so the last is the newest)."""
    return data.drop_duplicates(subset=ID_COLUMN, keep="last").reset_index(drop=True)


def standardized_coefficients(model, profile: dict[str, Any]):
    """(coefficients on standardized features, feature means, feature stds).

    For a model with a StandardScaler in front, the scaler's own statistics; otherwise
    the training profile's, with the raw coefficients rescaled (w * std), so that
    coef * z gives the same logit contribution as w * (x - mean).
    """
    steps = getattr(model, "named_steps", None)
    if steps and "standardscaler" in steps:
        scaler, lr = steps["standardscaler"], steps["logisticregression"]
        return lr.coef_[0], scaler.mean_, scaler.scale_
    means = np.array([profile[f]["mean"] for f in FEATURES])
    stds = np.array([profile[f]["std"] or 1.0 for f in FEATURES])
    return model.coef_[0] * stds, means, stds


def risk_table(
    model, data: pd.DataFrame, profile: dict[str, Any], settings: dict[str, Any]
) -> pd.DataFrame:
    """Every client ranked by exit probability, with risk band and top reasons.

    A reason is a feature pushing this client's risk up: its signed contribution to the
    logit is coefficient * standardized value; the largest positive ones are listed.
    """
    clients = latest_per_client(data)
    proba = exit_probabilities(model, clients)
    coef, means, stds = standardized_coefficients(model, profile)
    z = (clients[FEATURES].to_numpy(dtype=float) - means) / stds
    contrib = z * coef
    table = pd.DataFrame({ID_COLUMN: clients[ID_COLUMN], "exit_probability": proba})
    for j, f in enumerate(FEATURES):
        table[f"contribution_{f}"] = contrib[:, j].round(4)
    table["risk_band"] = np.where(
        proba >= settings["high"], "high", np.where(proba >= settings["medium"], "medium", "low")
    )
    table["top_reasons"] = reasons_texts(contrib, settings["top_reasons"])
    table = table.sort_values(["exit_probability", ID_COLUMN], ascending=[False, True])
    table["rank"] = np.arange(1, len(table) + 1)
    first = [ID_COLUMN, "exit_probability", "rank", "risk_band", "top_reasons"]
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)


def reasons_texts(contributions: np.ndarray, top: int) -> np.ndarray:
    """Per row: 'lastmonth_activity (+1.23); number_of_employees (+0.40)', the positive
    contributions (at least MIN_REASON), largest first, at most `top`.

    Vectorized over rows: a million clients take about a second.
    """
    n = len(contributions)
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    values = contributions[np.arange(n)[:, None], order]
    names = np.array(FEATURES, dtype=object)[order]
    text = np.full(n, "", dtype=object)
    for k in range(order.shape[1]):  # sorted: the reasons are a prefix of each row
        keep = values[:, k] >= MIN_REASON
        piece = names[:, k] + " (" + pd.Series(values[:, k]).map("{:+.2f}".format).to_numpy() + ")"
        text = np.where(keep, np.where(text == "", piece, text + "; " + piece), text)
    return text


def reasons_text(contributions: np.ndarray, top: int) -> str:
    """reasons_texts() of a single client."""
    return str(reasons_texts(np.asarray(contributions, dtype=float)[None, :], top)[0])


def client_record(row: dict[str, Any], top: int) -> dict[str, Any]:
    """One client of the risk table as JSON: reasons as (feature, contribution) pairs."""
    contributions = {f: row[f"contribution_{f}"] for f in FEATURES}
    reasons = sorted(
        ((f, c) for f, c in contributions.items() if c >= MIN_REASON), key=lambda p: -p[1]
    )
    return {
        ID_COLUMN: row[ID_COLUMN],
        "exit_probability": float(row["exit_probability"]),
        "rank": int(row["rank"]),
        "risk_band": row["risk_band"],
        "reasons": [{"feature": f, "contribution": float(c)} for f, c in reasons[:top]],
        "contributions": {f: float(c) for f, c in contributions.items()},
    }


def served_risk_table(
    model, manifest: dict[str, Any], data: pd.DataFrame, settings: dict[str, Any]
) -> pd.DataFrame:
    """risk_table() of a deployed model, standardized with its saved training profile."""
    meta = read_json(Path(manifest["folder"]) / MODEL_META, {}) or {}
    profile = meta.get("profile")
    if not profile:  # a model trained before profiles were saved: use today's data
        log.warning(
            "model %s has no training profile; standardizing with finaldata.csv",
            manifest["version"],
        )
        profile = feature_profile(data)
    return risk_table(model, data, profile, settings)


def deployed_risk_table(config: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The risk table of the deployed model over the ingested clients, and the manifest."""
    model, manifest = load_deployed(
        config["prod_deployment_path"], config["deployment"]["signing_key_path"]
    )
    data = ingestion.load_dataset(config["output_folder_path"] / FINALDATA)
    return served_risk_table(model, manifest, data, config["risk"]), manifest


def save_risk(config: dict[str, Any], table: pd.DataFrame, version: str) -> Path:
    """Write risk_scores.csv atomically and log the band counts."""
    path = write_atomic(
        config["output_model_path"] / RISK_CSV, table.to_csv(index=False, lineterminator="\n")
    )
    counts = table["risk_band"].value_counts()
    log.info(
        "ranked %d clients with model %s: %d high, %d medium, %d low; wrote %s",
        len(table),
        version,
        counts.get("high", 0),
        counts.get("medium", 0),
        counts.get("low", 0),
        path,
    )
    return path


def run_risk(config: dict[str, Any]) -> Path:
    """Write risk_scores.csv for the deployed model (`reporting.py --risk`)."""
    table, manifest = deployed_risk_table(config)
    return save_risk(config, table, manifest["version"])


def version_history(prod: Path) -> list[dict[str, Any]]:
    """Per deployed version, oldest first: version, time and its test-data metrics."""
    rows = []
    for name in list_versions(prod):
        folder = prod / VERSIONS / name
        manifest = read_json(folder / MANIFEST, {}) or {}
        scores = read_json(folder / SCORES_JSON, {}) or {}
        rows.append(
            {
                "version": name,
                "deployed_at": manifest.get("deployed_at"),
                **{k: scores.get(k) for k in ("f1", "precision", "recall", "roc_auc")},
            }
        )
    return rows


def history_figure(
    versions: list[dict[str, Any]], runs: list[dict[str, Any]], size: tuple = (7.5, 3.2)
) -> Figure:
    """Test-data metrics of each deployed version, and the F1 of each checked batch.

    The x axis is the sequence of versions (readable whether deployments are minutes or
    months apart); a batch is drawn just right of the version it was checked against,
    with its 95% interval.
    """
    fig = Figure(figsize=size, dpi=110)
    ax = fig.subplots()
    xs = np.arange(len(versions))
    for key, style in (("f1", "o-"), ("precision", ".--"), ("recall", ".--"), ("roc_auc", ".:")):
        ys = [v[key] if v[key] is not None else np.nan for v in versions]
        ax.plot(xs, ys, style, label=METRICS[key], linewidth=2 if key == "f1" else 1)
    position = {v["version"]: i for i, v in enumerate(versions)}
    checked = [
        r
        for r in reversed(runs)
        if r.get("batch_f1") is not None and r.get("deployed_version") in position
    ]  # oldest first
    per_version: dict[str, int] = {}
    for r in checked:
        k = per_version[r["deployed_version"]] = per_version.get(r["deployed_version"], 0) + 1
        x = position[r["deployed_version"]] + 0.12 * k
        err = [[r["batch_f1"] - r["batch_f1_low"]], [r["batch_f1_high"] - r["batch_f1"]]]
        ax.errorbar(
            [x],
            [r["batch_f1"]],
            yerr=err,
            fmt="s",
            color="black",
            capsize=3,
            label="F1 on a new batch (95% interval)" if r is checked[0] else None,
        )
    labels = [
        f"{v['version']}\n{(v['deployed_at'] or '')[:16].replace('T', ' ')}" for v in versions
    ]
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_xlim(-0.5, max(len(versions) - 0.5, 0.5))
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncols=3)
    fig.tight_layout()
    return fig


def figure_svg(fig: Figure) -> str:
    """A matplotlib figure as inline SVG text (text drawn as paths: no fonts needed)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def report_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Everything the report shows, computed from the deployed model and the records."""
    model, manifest = load_deployed(
        config["prod_deployment_path"], config["deployment"]["signing_key_path"]
    )
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
        "versions": version_history(config["prod_deployment_path"]),
        "runs": fullprocess.read_history(config["output_folder_path"], 50),
        "risk": served_risk_table(model, manifest, data, config["risk"]),
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


def latest_cell(package: dict[str, Any]) -> str:
    """The 'latest' cell of the dependency table: version, Python it needs, or why unknown."""
    if not package["latest"]:
        return f"unknown ({package['latest_unknown_reason']})"
    needs = package.get("latest_requires_python")
    if needs and package.get("outdated") is False and package["latest"] != package["installed"]:
        return f"{package['latest']} (needs Python {needs})"
    return package["latest"]


def dependency_section(facts: dict[str, Any], styles) -> list:
    """The pinned / installed / latest table of the dependencies."""
    deps = facts["dependencies"]
    rows = [["package", "pinned", "installed", "latest"]] + [
        [
            p["package"],
            p["pinned"],
            p["installed"] or "missing",
            latest_cell(p),
        ]
        for p in deps["packages"]
    ]
    return [section(f"Dependencies (checked {deps['checked_at']})", styles, table(rows))]


def risk_section(facts: dict[str, Any], styles) -> list:
    """The 20 clients most likely to exit, with their reasons."""
    rows = [["rank", "client", "exit prob.", "band", "top reasons"]] + [
        [r["rank"], r[ID_COLUMN], f"{r['exit_probability']:.3f}", r["risk_band"], r["top_reasons"]]
        for r in facts["risk"].head(20).to_dict(orient="records")
    ]
    return [
        section(
            "Top 20 clients by exit risk",
            styles,
            table(rows, [1.2 * cm, 1.6 * cm, 1.9 * cm, 1.6 * cm, 10.7 * cm]),
        )
    ]


def history_section(history_png: bytes, styles) -> list:
    """The score-history plot."""
    return [
        section(
            "Score history", styles, Image(io.BytesIO(history_png), width=17 * cm, height=7.25 * cm)
        )
    ]


def build_report(
    facts: dict[str, Any], confusion_png: bytes, history_png: bytes | None = None
) -> bytes:
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
        *(history_section(history_png, styles) if history_png else []),
        *risk_section(facts, styles),
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
    history = figure_png(history_figure(facts["versions"], facts["runs"]))
    folder = config["output_model_path"]
    paths = {
        "confusion_matrix": write_atomic(folder / CONFUSION_PNG, png),
        "report": write_atomic(folder / REPORT_PDF, build_report(facts, png, history)),
        "risk": save_risk(config, facts["risk"], facts["manifest"]["version"]),
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
    parser = cli_parser(__doc__.splitlines()[0])
    parser.add_argument("--risk", action="store_true", help="write risk_scores.csv only")
    args = parser.parse_args()
    config = load_config(args.config)
    if args.risk:
        run_risk(config)
        return 0
    run_reporting(config)
    return 0


if __name__ == "__main__":
    run_cli(main, "reporting")
