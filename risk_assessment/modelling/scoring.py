"""The logic under scoring.py: loading a model safely (skops, sha256), its metrics on the test
data, and the numbers of the drift verdicts.

What it reads and writes, and the command: the docstring of scoring.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from risk_assessment.core.common import (
    MODEL_META,
    MODEL_SKOPS,
    SCORE_FILE,
    SCORES_JSON,
    ModelError,
    now_iso,
    read_json,
    sha256_file,
    test_data_file,
    write_atomic,
    write_json,
)

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from risk_assessment.core.columns import DEFAULT_SCHEMA, ColumnSchema, check_model_schema
from risk_assessment.schema.dataset import load_dataset

log = logging.getLogger("scoring")


# Every type a served model may contain, checked before loading (skops builds objects
# of these types from data; no other type, and no code from the file, is ever used).
TRUSTED_TYPES = [
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "numpy.log1p",
    # the schema's input step (modelling/features.py): columns by type, missing values,
    # categories one-hot, tails of signed numbers squashed; slices index its outputs
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "numpy.arcsinh",
    "builtins.slice",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    # the input step's own two (modelling/encoding.py): categories to level codes in
    # front of the OneHotEncoder, the ColumnTransformer joining its sparse output faster
    "risk_assessment.modelling.encoding.LevelCodes",
    "risk_assessment.modelling.encoding.RowStack",
]
# skops nodes that hold plain data (dicts, lists, JSON values, arrays), not objects
DATA_NODES = {"DictNode", "ListNode", "JsonNode", "TupleNode", "NdArrayNode", "TypeNode"}


def skops_types(payload: bytes) -> set[str]:
    """Every 'module.Class' a skops file would build (read from its schema, nothing run)."""
    import io
    import zipfile

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("__loader__") not in DATA_NODES and "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        walk(json.loads(archive.read("schema.json")))
    return found


def load_model_verified(path: str | os.PathLike, expected_sha256: str | None) -> Any:
    """Load a skops model only if its bytes hash to expected_sha256 and it holds only
    TRUSTED_TYPES; ModelError otherwise. No code from the file ever runs.

    The bytes are read once, hashed, checked and loaded, so the file checked is the file
    loaded. Pickles are never loaded: a .pkl (or any non-skops file) is refused.
    """
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror})") from None
    if not expected_sha256:
        raise ModelError(f"{path}: no recorded sha256 to verify the model against")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256:
        raise ModelError(
            f"{path}: sha256 {actual[:12]}... does not match the recorded "
            f"{expected_sha256[:12]}...; file corrupted or tampered, refusing to load"
        )
    try:
        untrusted = sorted(skops_types(payload) - set(TRUSTED_TYPES))
    except Exception as exc:  # not a zip, no schema: not a skops file
        kind = type(exc).__name__
        raise ModelError(f"{path}: not a skops model file ({kind}); refusing to load") from None
    if untrusted:
        raise ModelError(f"{path}: untrusted type(s) {', '.join(untrusted)}; refusing to load")
    import skops.io  # only where a model is loaded: the cron tick stays light

    try:
        return skops.io.loads(payload, trusted=TRUSTED_TYPES)
    except Exception as exc:  # a verified file that still fails: say what, not a trace
        raise ModelError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None


def load_trained_model(model_folder: Path):
    """The model in output_model_path, verified against its metadata; returns (model, meta)."""
    meta_path = model_folder / MODEL_META
    meta = read_json(meta_path)
    if meta is None:
        if not (model_folder / MODEL_SKOPS).exists():
            raise ModelError(f"{model_folder / MODEL_SKOPS}: no trained model; run training.py")
        raise ModelError(f"{meta_path}: model metadata missing; run training.py again")
    return load_model_verified(model_folder / MODEL_SKOPS, meta.get("model_sha256")), meta


def exit_probabilities(
    model, data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA
) -> np.ndarray:
    """P(exited = 1) per row."""
    return model.predict_proba(data[schema.feature_names])[:, 1]


def score_model(model, data: pd.DataFrame, schema: ColumnSchema = DEFAULT_SCHEMA) -> dict[str, Any]:
    """Classification metrics of model on data; zero divisions give 0.0, ROC AUC None.

    ROC AUC is undefined (None) when the data hold a single class.
    """
    y = data[schema.target.column].to_numpy()
    pred = model.predict(data[schema.feature_names])
    proba = exit_probabilities(model, data, schema)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel().tolist()
    both_classes = len(np.unique(y)) == 2
    return {
        "f1": float(f1_score(y, pred, zero_division=0.0)),
        "precision": float(precision_score(y, pred, zero_division=0.0)),
        "recall": float(recall_score(y, pred, zero_division=0.0)),
        "roc_auc": float(roc_auc_score(y, proba)) if both_classes else None,
        "accuracy": float(accuracy_score(y, pred)),
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def f1_interval(
    y, pred, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the F1 of pred against y (resampling rows).

    Vectorized in chunks, so memory stays bounded on large batches.
    """
    y = np.asarray(y, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    n, rng, f1s = len(y), np.random.default_rng(seed), []
    chunk = max(1, 20_000_000 // max(n, 1))
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        yb, pb = y[idx], pred[idx]
        tp = (yb & pb).sum(axis=1)
        wrong = (yb ^ pb).sum(axis=1)
        denom = 2 * tp + wrong
        f1s.append(np.divide(2 * tp, denom, out=np.zeros(len(tp)), where=denom > 0))
    f1s = np.concatenate(f1s)
    tail = (1 - level) / 2
    return float(np.quantile(f1s, tail)), float(np.quantile(f1s, 1 - tail))


def drift_threshold(deployed_f1: float, past_scores: list[float], rule: str) -> float:
    """The F1 below which a new score means model drift, by rule.

    raw: the deployed score. parametric: mean - 2 std of past deployed scores.
    nonparametric: Q1 - 1.5 IQR of past deployed scores. With fewer than 3 past
    scores the two statistical rules fall back to raw (no spread to measure yet).
    """
    if rule == "raw" or len(past_scores) < 3:
        return deployed_f1
    scores = np.asarray(past_scores, dtype=float)
    if rule == "parametric":
        return float(scores.mean() - 2 * scores.std(ddof=1))
    if rule == "nonparametric":
        q1, q3 = np.quantile(scores, [0.25, 0.75])
        return float(q1 - 1.5 * (q3 - q1))
    raise ModelError(f"model_drift.rule: unknown rule {rule!r} (raw, parametric, nonparametric)")


def save_scores(folder: Path, scores: dict[str, Any]) -> Path:
    """Write scores.json, then latestscore.txt (F1 alone), each atomically."""
    write_json(folder / SCORES_JSON, scores)
    return write_atomic(folder / SCORE_FILE, f"{scores['f1']!r}\n")


def run_scoring(config: dict[str, Any]) -> dict[str, Any]:
    """Score the trained model on the test data and save; used by fullprocess.py too."""
    folder = config["output_model_path"]
    model, meta = load_trained_model(folder)
    schema = config["schema"]
    check_model_schema(meta, schema, str(folder / MODEL_SKOPS))
    test_path = test_data_file(config["test_data_path"])
    scores = score_model(model, load_dataset(test_path, schema), schema)
    scores.update(
        scored_at=now_iso(),
        model_sha256=meta["model_sha256"],
        test_data=str(test_path),
        test_data_sha256=sha256_file(test_path),
    )
    path = save_scores(folder, scores)
    auc = "n/a" if scores["roc_auc"] is None else f"{scores['roc_auc']:.4f}"
    log.info(
        "F1 %.4f, precision %.4f, recall %.4f, ROC AUC %s on %d test rows; wrote %s",
        scores["f1"],
        scores["precision"],
        scores["recall"],
        auc,
        scores["rows"],
        path,
    )
    return scores


# ---- judging a new batch against the deployed model ---------------------------------------


def cut_off(model) -> float:
    """The model's stored decision cut-off (0.5 for a model without one)."""
    return float(getattr(model, "threshold", 0.5))


def refit_verdict(
    labelled: pd.DataFrame,
    model,
    settings: dict,
    params: dict,
    schema: ColumnSchema = DEFAULT_SCHEMA,
) -> dict[str, Any]:
    """The default rule: would a model refit on the batch (cross-fitted, so it never scores
    a row it was trained on) predict it better than the deployed one, per row, in
    log-loss? Beside it, observed vs predicted exit rate (calibration, prior shift)."""
    from risk_assessment.modelling import training
    from risk_assessment.monitoring import statistics as monitoring

    y, X = labelled[schema.target.column].to_numpy(), labelled[schema.feature_names]
    p_deployed = model.predict_proba(X)[:, 1]
    calibration = monitoring.calibration_test(y, p_deployed, settings["calibration_alpha"])
    out = {"calibration": calibration.as_dict()}
    reasons = [calibration.text()]
    drift = calibration.verdict

    def fit(X_train, y_train):
        return training.build_model(params, "log", schema).fit(X_train, y_train)

    p_refit = monitoring.cross_fitted_probabilities(X, y, fit, folds=5, seed=0)
    refit = monitoring.paired_logloss_test(y, p_deployed, p_refit, settings["alpha"])
    out["refit"] = refit.as_dict()
    reasons.insert(0, refit.text())
    drift = drift or refit.verdict
    return {"drift": bool(drift), "verdict": out, "reason": "; ".join(reasons)}


def f1_rule_verdict(
    labelled, model, settings, deployed_f1: float, past: list[float], schema=DEFAULT_SCHEMA
) -> dict:
    """The original project's rules: the batch's F1 against the deployed F1 (raw) or the
    spread of past deployed F1s (parametric, nonparametric), with a bootstrap interval."""
    from risk_assessment.monitoring import statistics as monitoring

    scores = score_model(model, labelled, schema)
    pred = model.predict(labelled[schema.feature_names])
    interval = f1_interval(labelled[schema.target.column], pred, settings["confidence"])
    threshold = drift_threshold(deployed_f1, past, settings["rule"])
    drift, why = monitoring.model_drift_decision(
        len(labelled), scores["f1"], interval, threshold, settings, scores["positives"]
    )
    return {"drift": drift, "verdict": {"drift_threshold": threshold}, "reason": why}


def label_verdict(labelled, model, config: dict, deployed_f1: float, past: list[float]) -> dict:
    """Model drift on the labelled rows by the configured rule; None when too few rows or
    no exit at all (F1 undefined), with the F1 on the batch reported in every case."""
    settings, schema = config["model_drift"], config["schema"]
    n = len(labelled)
    if n < max(settings["min_batch_rows"], 1):
        # the caller leads with the count ("0 labelled rows: ..."), as for every finding
        why = f"below model_drift.min_batch_rows ({settings['min_batch_rows']}): too few to judge"
        return {"drift": None, "verdict": {}, "reason": why, "fields": {}}
    pred = model.predict(labelled[schema.feature_names])
    low, high = f1_interval(labelled[schema.target.column], pred, settings["confidence"])
    f1 = float(score_model(model, labelled, schema)["f1"])
    fields = {
        "batch_f1": f1,
        "batch_f1_low": low,
        "batch_f1_high": high,
        "drift_rule": settings["rule"],
    }
    classes = labelled[schema.target.column].nunique()
    if classes < 2:  # a selected sample (say, only stayers) says nothing of the relationship
        why = (
            "batch has no exits"
            if f1 == 0 and not labelled[schema.target.column].any()
            else "batch has only exits"
        )
        out = {"drift": None, "verdict": {}, "reason": f"{why}: not judged"}
    elif settings["rule"] == "refit":
        out = refit_verdict(labelled, model, settings, config["training"], schema)
    else:
        out = f1_rule_verdict(labelled, model, settings, deployed_f1, past, schema)
        fields["drift_threshold"] = out["verdict"]["drift_threshold"]
    return {**out, "fields": fields}


def unlabelled_estimate(
    unlabelled: pd.DataFrame, model, schema: ColumnSchema = DEFAULT_SCHEMA
) -> dict[str, Any] | None:
    """The label-free F1 estimate (CBPE) of the deployed model on unlabelled rows."""
    from risk_assessment.monitoring import statistics as monitoring

    if unlabelled.empty:
        return None
    p = model.predict_proba(unlabelled[schema.feature_names])[:, 1]
    est = monitoring.cbpe_estimate(p, cut_off(model))
    return {
        "n": est.n,
        "f1": est.f1,
        "f1_low": est.f1_low,
        "f1_high": est.f1_high,
        "expected_exit_rate": est.expected_exit_rate,
    }
