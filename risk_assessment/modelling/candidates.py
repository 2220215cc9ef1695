"""Candidates for the gate: a model per training window (recent rows, all rows, all rows
with the recent ones weighted up), fitted like training.py's model, and the one the gate
picks saved as the output model. Used by pipeline/gating.py.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from risk_assessment.core.common import ModelError

import numpy as np
import pandas as pd

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.modelling.training import (
    fit_with_selection,
    model_metadata,
    save_model,
)
from risk_assessment.schema.dataset import observations_frame
from risk_assessment.store import accounts
from risk_assessment.store import records as store

log = logging.getLogger("training")


def fit_candidates(
    windows: dict[str, tuple[pd.DataFrame, Any]],
    params: dict[str, Any],
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> dict[str, dict[str, Any]]:
    """A candidate model per training window (name -> (rows, row weights or None)).

    A window too small or with one class only is skipped with one log line. Returns
    name -> {model, warning, selection, data, seconds}.
    """
    out = {}
    for name, (data, weights) in windows.items():
        start = time.perf_counter()
        try:
            model, warning, selection = fit_with_selection(
                data, params, f"{name} window", weights, schema
            )
        except ModelError as exc:
            log.info("candidate %s skipped: %s", name, exc)
            continue
        out[name] = {
            "model": model,
            "warning": warning,
            "selection": selection,
            "data": data,
            "seconds": time.perf_counter() - start,
        }
    return out


def training_windows(
    config: dict[str, Any], batch_id: int, holdout_share: float
) -> tuple[dict[str, tuple[pd.DataFrame, Any]], pd.DataFrame]:
    """The candidates' training windows after a batch, and the batch's holdout.

    A random share of the batch's labelled rows (seeded by the batch) is held out: no
    candidate trains on it, and the gate compares on it. Windows: `recent` (the rest of
    the batch), `all` (every labelled row before it, plus recent) and `weighted` (all, the
    recent rows weighted to count as much as the rest).
    """
    output, schema = config["output_folder_path"], config["schema"]
    frame = observations_frame(store.training_rows(output, schema=schema), schema)
    if config["training"]["contacted_labels"] == "leave_out":
        frame = frame[~frame["seq"].isin(accounts.contacted_label_seqs(output))]
    batch = sorted(r[0] for r in store.batch_rows(output, batch_id, schema))
    draws = np.random.default_rng(batch_id).random(len(batch))  # the same on a rerun
    held_seqs = [seq for seq, draw in zip(batch, draws, strict=True) if draw < holdout_share]
    in_batch = frame["seq"].isin(batch).to_numpy()
    held = frame["seq"].isin(held_seqs).to_numpy()
    frame = frame.astype({schema.target.column: "int64"})
    recent, history = frame[in_batch & ~held], frame[~in_batch]
    both = pd.concat([history, recent], ignore_index=True)
    weights = np.r_[
        np.ones(len(history)), np.full(len(recent), max(len(history), 1) / max(len(recent), 1))
    ]
    windows = {"recent": (recent, None), "all": (both, None), "weighted": (both, weights)}
    return windows, frame[held]


def save_candidate(config: dict[str, Any], name: str, candidate: dict[str, Any]) -> dict[str, Any]:
    """Save a candidate as the trained model, its window recorded as its training data."""
    data = candidate["data"]
    digest = hashlib.sha256(data[config["schema"].columns].to_csv(index=False).encode())
    digest = digest.hexdigest()
    source = f"observations: {name} window ({len(data)} rows)"
    metadata = model_metadata(
        data,
        source,
        digest,
        config,
        candidate["seconds"],
        candidate["warning"],
        candidate["selection"],
    )
    metadata["window"] = name
    save_model(candidate["model"], metadata, config["output_model_path"])
    return metadata
