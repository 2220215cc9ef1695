"""The logic under reporting.py: gathering the report's facts and writing the confusion matrix,
the PDF and the risk list.

What it reads and writes, and the command: the docstring of reporting.py.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    FINALDATA,
    METRIC_LABELS,
    RiskError,
    now_iso,
    test_data_file,
    write_atomic,
)

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema, check_model_schema
from risk_assessment.deployment.versions import (
    load_deployed,
    load_deployed_version,
    read_model_meta,
)
from risk_assessment.reports import diagnostics, model_health
from risk_assessment.reports.outcomes import stored_comparison
from risk_assessment.reports.pdf import build_report
from risk_assessment.reports.risk import (
    RISK_CSV,
    RISK_PREVIOUS,
    people_csv,
    served_risk_table,
    with_changes,
)
from risk_assessment.reports.scientist import scientist_facts
from risk_assessment.reports.week import week_facts
from risk_assessment.schema import dataset
from risk_assessment.store import lookups
from risk_assessment.store import records as store

log = logging.getLogger("reporting")

CONFUSION_PNG = "confusionmatrix.png"
REPORT_PDF = "summary_report.pdf"


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


def deployed_risk_table(config: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The risk table of the deployed model over the ingested clients, and the manifest."""
    model, manifest = load_deployed(
        config["prod_deployment_path"], config["deployment"]["signing_key_path"], config["schema"]
    )
    schema = config["schema"]
    table = served_risk_table(model, manifest, observations(config), config["risk"], schema)
    return table, manifest


def observations(config: dict[str, Any]) -> pd.DataFrame:
    """Every stored observation, labelled or not, in order of arrival: the risk list ranks
    the latest one of each client that has not exited."""
    schema = config["schema"]
    rows = store.all_observations(config["output_folder_path"], schema)
    return dataset.observations_frame(rows, schema)


def save_risk(config: dict[str, Any], table: pd.DataFrame, version: str) -> Path:
    """Write risk_scores.csv atomically (spreadsheet-safe) and log the band counts.

    When the list changes, the one it replaces is kept as risk_scores.previous.csv, so
    the dashboard and the report can say who is new in the high band, moved up or down.
    """
    folder = config["output_model_path"]
    text = people_csv(table)
    try:
        before = (folder / RISK_CSV).read_text(encoding="utf-8")
    except FileNotFoundError:
        before = None
    if before is not None and before != text:
        write_atomic(folder / RISK_PREVIOUS, before)
    path = write_atomic(folder / RISK_CSV, text)
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
        ax.plot(xs, ys, style, label=METRIC_LABELS[key], linewidth=2 if key == "f1" else 1)
    draw_batches(ax, versions, runs)
    labels = [
        f"{v['version']}\n{(v['deployed_at'] or '')[:16].replace('T', ' ')}" for v in versions
    ]
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_xlim(-0.5, max(len(versions) - 0.5, 0.5))
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # clear of the data
    fig.tight_layout()
    return fig


def draw_batches(ax, versions: list[dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """The batch F1s of history_figure(), with their intervals, beside their versions."""
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
        ax.annotate(
            f"run {r.get('id')}", (x, r["batch_f1"]), (4, -3), "data", "offset points", fontsize=6
        )


def reliability_figure(bins: list[dict[str, Any]]) -> Figure:
    """Observed exit rate against mean predicted probability per bin, and the diagonal."""
    fig = Figure(figsize=(4, 3.5), dpi=110)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="probabilities hold")
    sizes = [12 + 120 * b["clients"] / max(c["clients"] for c in bins) for b in bins]
    ax.scatter([b["predicted"] for b in bins], [b["observed"] for b in bins], s=sizes)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability", ylabel="observed exit rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def with_current_run(runs: list[dict], current_run: dict[str, Any] | None) -> list[dict]:
    """The runs, with the run in progress first when it is not recorded yet (a run is its
    batch: several runs may start in one second)."""
    if not current_run:
        return runs
    key = (current_run.get("started_at"), current_run.get("batch_id"))
    if any((r.get("started_at"), r.get("batch_id")) == key for r in runs):
        return runs
    return [{"id": "this run", **current_run}, *runs]


def report_facts(config: dict[str, Any], current_run: dict[str, Any] | None = None) -> dict:
    """Everything the report shows but the dependency table, read from the deployed model
    and the records; writes nothing (run_reporting adds the dependencies).

    current_run: the run of fullprocess that is deploying now (recorded only after the
    report is written), so the report can say why this model was deployed.
    """
    model, manifest = load_deployed(
        config["prod_deployment_path"], config["deployment"]["signing_key_path"], config["schema"]
    )
    test_path = test_data_file(config["test_data_path"])
    schema = config["schema"]
    test = dataset.load_dataset(test_path, schema)
    data = dataset.load_dataset(config["output_folder_path"] / FINALDATA, schema)
    record = store.read_record_file(manifest["folder"])
    runs = with_current_run(model_health.run_history(config, 50), current_run)
    versions = model_health.version_history(config["prod_deployment_path"])
    key_file = config["deployment"]["signing_key_path"]
    min_rows = config["model_drift"]["min_batch_rows"]
    facts = {
        "date": now_iso(),
        "manifest": manifest,
        "model": model,
        "model_meta": read_model_meta(manifest["folder"]),
        "test_data": test_path.name,
        "scores": model_health.scores_with_interval(model, test, schema),
        "previous": previous_version_scores(versions, manifest["version"], test, key_file, schema),
        "summary": diagnostics.dataframe_summary(data, schema),
        "missing": diagnostics.missing_data(data),
        "timings": diagnostics.recorded_timings(config),
        "last_ingestion": (record.get("runs") or [{}])[-1],
        "ingested_files": record.get("files", []),
        "versions": versions,
        "runs": runs,
        "judged": [r for r in runs if model_health.judgeable(r, min_rows)],
        **reader_facts(config, model, manifest, runs),
    }
    current = facts["risk"]["exit_probability"]
    facts["science"] = scientist_facts(config, model, manifest, runs, test, current)
    return facts


def reader_facts(config: dict[str, Any], model, manifest: dict[str, Any], runs: list) -> dict:
    """What each reader sees first: the risk list with its changes (risk), the band and
    change counts (list), this week's calls and plain words (week), the columns' words."""
    seen = observations(config)
    ranked = served_risk_table(model, manifest, seen, config["risk"], config["schema"])
    table, changes = with_changes(ranked, config["output_model_path"])
    return {
        "risk": table,
        "list": changes,
        "calls": stored_comparison(config["output_folder_path"], model, config["schema"]),
        "week": week_facts(config, table, manifest, seen, runs),
        "words": config["schema"].words,  # a column's plain words
        "value": config["schema"].value,  # the column of what a client is worth, or None
        "rejected": list(lookups.rejections_by_batch(config["output_folder_path"]).values()),
    }


def previous_version_scores(
    versions: list[dict],
    live: str,
    test: pd.DataFrame,
    key_file: Path | None = None,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> dict | None:
    """The version before the live one, scored with an interval on the same test data."""
    before = model_health.previous_version(versions, live)
    if before is None:
        return None
    try:
        model, _ = load_deployed_version(before["folder"], key_file)
        check_model_schema(read_model_meta(before["folder"]), schema, before["version"])
    except RiskError:  # damaged, pre-upgrade or of other columns: the report shows the rest
        return None
    scores = model_health.scores_with_interval(model, test, schema)
    return {"version": before["version"], **scores}


def run_reporting(
    config: dict[str, Any], current_run: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write the confusion matrix, the PDF report and the risk list; fullprocess calls it
    after a deployment with the run in progress (so the report can say why).

    Looking up the dependency table may refresh its cache (dependencies.json), so it is
    done here, with the writes, after the facts are read.
    """
    facts = {
        **report_facts(config, current_run),
        "dependencies": diagnostics.dependencies_for(config),
    }
    title = f"Model {facts['manifest']['version']} on {facts['test_data']}"
    png = figure_png(confusion_figure(facts["scores"]["confusion_matrix"], title))
    history = figure_png(history_figure(facts["versions"], facts["judged"]))
    facts["science"]["reliability_png"] = figure_png(
        reliability_figure(facts["science"]["reliability"])
    )
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
