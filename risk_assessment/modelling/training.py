"""The logic under training.py: fitting the logistic regression on the schema's columns
(transform and cut-off chosen by cross-validation) and saving it with its metadata.

What it reads and writes, and the command: the docstring of training.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import platform
import time
import warnings
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    FINALDATA,
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    DataError,
    ModelError,
    now_iso,
    sha256_file,
    write_atomic,
    write_json,
)

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold
from sklearn.pipeline import Pipeline

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema
from risk_assessment.core.forked import Forked
from risk_assessment.modelling.features import (
    column_means,
    column_transformer,
    mlflow_signature,
)
from risk_assessment.modelling.profiles import (  # noqa: F401 (training.feature_profile)
    PROFILE_BINS,
    feature_profile,
    profiles,
)
from risk_assessment.monitoring.statistics import best_threshold, f1_at, row_logloss
from risk_assessment.schema.dataset import export_frame, load_dataset
from risk_assessment.store import accounts
from risk_assessment.store import records as store

log = logging.getLogger("training")


TRANSFORMS = ("raw", "log")  # numbers as they are, or log-squashed (features.py)
# The config sections recorded with each model: how it was trained, how drift is judged
# and a retrained model gated, how its probabilities are banded into risk.
SETTINGS_SECTIONS = ("training", "model_drift", "data_drift", "gate", "risk")


def build_model(
    params: dict[str, Any], transform: str = "raw", schema: ColumnSchema = DEFAULT_SCHEMA
) -> Pipeline:
    """The logistic regression behind the schema's ColumnTransformer (features.py)."""
    model = LogisticRegression(
        solver=params["solver"],
        C=params["C"],
        max_iter=int(params["max_iter"]),
        random_state=int(params["random_state"]),
    )
    columns = column_transformer(schema, transform, bool(params["scale_features"]))
    return Pipeline([("columns", columns), ("model", model)])


def check_training_data(
    data: pd.DataFrame, min_rows: int, source: str, schema: ColumnSchema = DEFAULT_SCHEMA
) -> None:
    """ModelError when the data cannot give a meaningful classifier."""
    if len(data) < min_rows:
        raise ModelError(
            f"{source}: {len(data)} row(s), need at least {min_rows} to train (training.min_rows)"
        )
    target = schema.target.column
    classes = sorted(data[target].unique().tolist())
    if len(classes) < 2:
        raise ModelError(f"{source}: every row has {target}={classes[0]}; need both classes")


def out_of_fold(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, w, folds: int, seed: int):
    """Out-of-fold P(exit) of pipe (stratified folds), or None when a class is too rare."""
    k = min(folds, int(np.bincount(y, minlength=2).min()))
    if k < 2:
        return None
    proba = np.empty(len(y))
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        fitted = clone(pipe).fit(
            X.iloc[train], y[train], model__sample_weight=None if w is None else w[train]
        )
        proba[test] = fitted.predict_proba(X.iloc[test])[:, 1]
    return proba


FORK_ROWS = 100_000  # from this many rows the profiles are made by a child (core/forked.py)
SELECTION_ROWS = 50_000  # the transform and cut-off are chosen on at most this many rows


def selection_rows(n: int, seed: int) -> np.ndarray:
    """Rows used to choose the transform and cut-off: all, or a random SELECTION_ROWS of
    them (two numbers are well estimated from 50,000 rows; more would only lengthen the
    cross-validation). The final fit always uses every row."""
    if n <= SELECTION_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, SELECTION_ROWS, replace=False))


def fit_pipeline(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, w) -> tuple[Pipeline, list]:
    """Fit pipe as Pipeline.fit does (each input step, then the classifier on their
    output), and return with it the mean of that output: the 'average client' the risk
    list's contributions are measured from, without transforming the rows a second time."""
    Z = pipe[:-1].fit_transform(X, y)  # sparse when there are categories (features.py)
    pipe[-1].fit(Z, y, sample_weight=w)
    return pipe, column_means(Z).round(10).tolist()


def select_model(data: pd.DataFrame, params: dict, sample_weight=None, schema=DEFAULT_SCHEMA):
    """Choose the transform by cross-validated log-loss and the cut-off by F1 on the
    chosen pipeline's out-of-fold probabilities; fit on all rows.

    Returns (FixedThresholdClassifier, selection record for the metadata).
    """
    X, y = data[schema.feature_names], data[schema.target.column].to_numpy().astype(int)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    seed, folds = int(params["random_state"]), int(params["cv_folds"])
    choices = TRANSFORMS if params["transform"] == "auto" else (params["transform"],)
    rows = selection_rows(len(y), seed)
    Xs, ys, ws = X.iloc[rows], y[rows], None if w is None else w[rows]
    oof = {t: out_of_fold(build_model(params, t, schema), Xs, ys, ws, folds, seed) for t in choices}
    losses = {
        t: float(np.average(row_logloss(ys, p), weights=ws))
        for t, p in oof.items()
        if p is not None
    }
    # too few exits to cross-validate: log1p, which suits heavy-tailed counts
    transform = min(losses, key=losses.get) if losses else choices[-1]
    threshold, f1_tuned = 0.5, None
    if params["tune_threshold"] and oof[transform] is not None:
        threshold, f1_tuned = best_threshold(ys, oof[transform], ws)
        threshold = round(threshold, 6)  # the model's and the metadata's cut-off, equal
    pipe, reference = fit_pipeline(build_model(params, transform, schema), X, y, w)
    model = FixedThresholdClassifier(pipe, threshold=threshold)
    model.estimator_ = pipe  # fitted here: FixedThresholdClassifier.fit cannot pass weights
    selection = {
        "transform": transform,
        "threshold": float(threshold),
        "cv_logloss": {t: round(v, 6) for t, v in losses.items()},
        "cv_rows": len(rows),
        "cv_f1_at_0.5": None
        if oof[transform] is None
        else round(f1_at(ys, oof[transform], 0.5), 6),
        "cv_f1_tuned": None if f1_tuned is None else round(f1_tuned, 6),
        "reference": reference,
    }
    return model, selection


def fit_with_selection(
    data: pd.DataFrame,
    params: dict[str, Any],
    source: str = "training data",
    sample_weight=None,
    schema: ColumnSchema = DEFAULT_SCHEMA,
):
    """select_model with checks and convergence warnings: (model, warning, selection)."""
    check_training_data(data, int(params["min_rows"]), source, schema)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model, selection = select_model(data, params, sample_weight, schema)
    notes = [
        str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)
    ]
    return model, (notes[0] if notes else None), selection


def train_model(
    data: pd.DataFrame,
    params: dict[str, Any],
    source: str = "training data",
    sample_weight=None,
    schema: ColumnSchema = DEFAULT_SCHEMA,
):
    """Fit the model on data's features and target (rows weighted by sample_weight, e.g.
    by recency); returns (model, convergence warning). The model predicts with its
    stored, F1-tuned cut-off."""
    model, warning, _ = fit_with_selection(data, params, source, sample_weight, schema)
    return model, warning


def library_versions() -> dict[str, str]:
    """Versions of what the pickle depends on, to check before loading it elsewhere."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def recorded_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that produced a model, as JSON values, to keep in its metadata (as
    nanoGPT keeps its config in the checkpoint)."""
    return json.loads(json.dumps({name: config[name] for name in SETTINGS_SECTIONS}, default=str))


def model_metadata(
    data: pd.DataFrame,
    source: str,
    data_sha256: str,
    config: dict[str, Any],
    seconds: float,
    warning: str | None,
    selection: dict[str, Any] | None = None,
    profiled: dict[str, dict] | None = None,
) -> dict[str, Any]:
    """Provenance of a trained model: data, settings (config's SETTINGS_SECTIONS), and how
    its transform and cut-off were chosen; profiled: profiles(data, schema) when made
    already."""
    params, schema = config["training"], config["schema"]
    return {
        "trained_at": now_iso(),
        "training_data": source,
        "training_data_sha256": data_sha256,
        "rows": len(data),
        "exit_rate": round(float(data[schema.target.column].mean()), 6),
        "features": schema.feature_names,
        "target": schema.target.column,
        "schema": schema.to_dict(),
        "schema_fingerprint": schema.fingerprint(),
        "signature": mlflow_signature(schema),
        "hyperparameters": dict(params),
        "convergence_warning": warning,
        "selection": selection or {},
        "threshold": (selection or {}).get("threshold", 0.5),
        "seconds": round(seconds, 4),
        "versions": library_versions(),
        **(profiled if profiled is not None else profiles(data, schema)),
        "settings": recorded_settings(config),
    }


def save_model(model, metadata: dict[str, Any], folder: Path) -> Path:
    """Atomically write the skops model (the one loaded), the pickle (for the original
    project's tools; never loaded here), then the metadata with the sha256 of both."""
    import skops.io

    path = write_atomic(folder / MODEL_SKOPS, skops.io.dumps(model))
    pickled = write_atomic(
        folder / MODEL_FILE, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    )
    hashes = {"model_sha256": sha256_file(path), "pickle_sha256": sha256_file(pickled)}
    write_json(folder / MODEL_META, {**metadata, **hashes})
    return path


def leave_out_contacted(data: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """finaldata without the labels that arrived after a contact, when
    training.contacted_labels is "leave_out" (matched by their values: the export
    holds no seq); data unchanged for "keep"."""
    if config["training"]["contacted_labels"] != "leave_out":
        return data
    folder, schema = config["output_folder_path"], config["schema"]
    seqs = accounts.contacted_label_seqs(folder)
    stored = store.training_rows(folder, schema=schema)
    dropped = {tuple(r[1:]) for r in stored if r[0] in seqs}
    if not dropped:
        return data
    rows = data[schema.columns].itertuples(index=False, name=None)
    keep = [row not in dropped for row in rows]
    log.info("left out %d label(s) that arrived after a contact", len(data) - sum(keep))
    return data[keep].reset_index(drop=True)


def read_training_set(folder: Path, schema: ColumnSchema) -> tuple[pd.DataFrame, str]:
    """finaldata.csv as a typed frame, and its sha256. The store's own export (the sha256
    it recorded for this schema) is typed by the parser alone, its rows judged when they
    were stored; any other content goes through every rule (load_dataset)."""
    path = folder / FINALDATA
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    trusted = sha == store.export_sha256(folder, schema)
    try:
        data = export_frame(raw, schema) if trusted else load_dataset(path, schema)
    except DataError as exc:  # e.g. header only: say why, when the store knows
        raise nothing_readable(folder, schema, path) or exc from None
    if data.empty and (error := nothing_readable(folder, schema, path)):
        raise error
    return data, sha


def nothing_readable(folder: Path, schema: ColumnSchema, path: Path) -> ModelError | None:
    """Why the training set is empty when the store holds rows the schema cannot read
    (stored under an earlier schema that lacked a column this one needs); None otherwise."""
    rows, lacking = store.unusable_rows(folder, schema)
    if not rows:
        return None
    return ModelError(
        f"{path}: no stored row can be read under config.json's schema: {rows} row(s) lack "
        f"{', '.join(lacking)} (stored under an earlier schema); ingest data that has them, "
        "or change the schema back (docs/own-data.md)"
    )


def log_selection(selection: dict[str, Any]) -> None:
    """One log line: the transform and cut-off chosen, with their cross-validated numbers."""
    log.info(
        "transform %s (CV log-loss %s on %d rows), cut-off %.3f (CV F1 %s, at 0.5 %s)",
        selection["transform"],
        ", ".join(f"{t} {v:.4f}" for t, v in selection["cv_logloss"].items()) or "n/a",
        selection["cv_rows"],
        selection["threshold"],
        selection["cv_f1_tuned"],
        selection["cv_f1_at_0.5"],
    )


def fit_beside_profiles(data: pd.DataFrame, params: dict, source: str, schema: ColumnSchema):
    """fit_with_selection's (model, warning, selection), and the training profiles: made
    by a child while the model is fitted, from FORK_ROWS rows (they need only the data),
    else None (model_metadata then makes them)."""
    profiled = Forked(profiles, data, schema) if len(data) >= FORK_ROWS else None
    try:
        fitted = fit_with_selection(data, params, source, None, schema)
    except BaseException:
        if profiled:
            profiled.close()
        raise
    return (*fitted, profiled.result() if profiled else None)


def run_training(config: dict[str, Any]) -> dict[str, Any]:
    """Train on finaldata.csv and save; returns the metadata. Used by fullprocess.py too."""
    data_path, schema = config["output_folder_path"] / FINALDATA, config["schema"]
    store.refresh_exports(config["output_folder_path"], schema)  # an edited export is rebuilt
    if not data_path.exists():
        raise ModelError(f"{data_path}: no training data; run ingestion.py first")
    data, data_sha256 = read_training_set(config["output_folder_path"], schema)
    data = leave_out_contacted(data, config)
    start = time.perf_counter()
    params = config["training"]
    model, warning, selection, profiled = fit_beside_profiles(data, params, str(data_path), schema)
    seconds = time.perf_counter() - start
    if warning:
        log.warning("model did not converge: %s", warning)
    log_selection(selection)
    metadata = model_metadata(
        data,
        str(data_path),
        data_sha256,
        config,
        seconds,
        warning,
        selection,
        profiled,
    )
    path = save_model(model, metadata, config["output_model_path"])
    log.info(
        "trained on %d rows (exit rate %.3f) in %.3f s; wrote %s",
        len(data),
        metadata["exit_rate"],
        seconds,
        path,
    )
    return metadata
