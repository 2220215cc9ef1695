"""The data scientist's facts, gathered once for the /model page and the PDF appendix:
effects per feature, the reliability table on the latest labelled data, the label-free
estimate on the current clients, and the decision's statistics."""

from __future__ import annotations

from typing import Any

import pandas as pd

from risk_assessment.deployment.versions import read_model_meta
from risk_assessment.reports import effects
from risk_assessment.schema import dataset
from risk_assessment.store import records as store


def latest_labelled(
    config: dict[str, Any], runs: list[dict[str, Any]], test: pd.DataFrame
) -> tuple[str, pd.DataFrame]:
    """(what it is, the rows) of the latest labelled data: the last judged batch's labelled
    rows, else the test data."""
    judged = (r for r in runs if r.get("batch_f1") is not None and r.get("batch_id"))
    for run in judged:
        schema = config["schema"]
        rows = dataset.observations_frame(
            store.batch_rows(config["output_folder_path"], run["batch_id"], schema), schema
        )
        rows = rows[rows[schema.target.column].notna()]
        if len(rows):
            name = run["id"] if isinstance(run["id"], str) else f"run {run['id']}"  # this run
            return f"the new rows of {name} ({len(rows):,} labelled)", rows
    return f"the test data ({len(test):,} rows)", test


def scientist_facts(
    config: dict[str, Any],
    model,
    manifest: dict[str, Any],
    runs: list[dict[str, Any]],
    test: pd.DataFrame,
    current: pd.Series,
) -> dict[str, Any]:
    """Effects, reliability (and on what), the label-free estimate on the current clients'
    probabilities (current), and the cut-off the model flags at."""
    meta = read_model_meta(manifest["folder"])
    on, rows = latest_labelled(config, runs, test)
    cut = float(getattr(model, "threshold", 0.5))
    return {
        "effects": effects.effects(model, meta.get("profile") or {}, config["schema"]),
        "reliability": effects.reliability(model, rows, config["schema"]),
        "reliability_on": on,
        "label_free": effects.label_free_estimate(current.to_numpy(), cut),
        "cut": cut,
    }
