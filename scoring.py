"""Scoring: F1 (and precision, recall, ROC AUC) of the trained model on the test data.

Reads   output_model_path/trainedmodel.skops (+ trainedmodel.json to verify it)
        test_data_path/testdata.csv (or test_data_path itself when it is a file)
Writes  output_model_path/latestscore.txt   the F1 alone, a plain number (read with float())
        output_model_path/scores.json       every metric, the model's sha256, the data used
Run     python scoring.py [--config config.json]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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

from common import (
    FEATURES,
    MODEL_META,
    MODEL_SKOPS,
    SCORE_FILE,
    SCORES_JSON,
    TARGET,
    TEST_FILE,
    ModelError,
    cli_parser,
    load_config,
    load_model_verified,
    now_iso,
    read_json,
    run_cli,
    sha256_file,
    write_atomic,
    write_json,
)
from ingestion import load_dataset

log = logging.getLogger("scoring")


def test_data_file(test_data_path: Path) -> Path:
    """The test CSV: test_data_path itself if it is a file, else testdata.csv inside it."""
    return test_data_path if test_data_path.is_file() else test_data_path / TEST_FILE


def load_trained_model(model_folder: Path):
    """The model in output_model_path, verified against its metadata; returns (model, meta)."""
    meta_path = model_folder / MODEL_META
    meta = read_json(meta_path)
    if meta is None:
        if not (model_folder / MODEL_SKOPS).exists():
            raise ModelError(f"{model_folder / MODEL_SKOPS}: no trained model; run training.py")
        raise ModelError(f"{meta_path}: model metadata missing; run training.py again")
    return load_model_verified(model_folder / MODEL_SKOPS, meta.get("model_sha256")), meta


def exit_probabilities(model, data: pd.DataFrame) -> np.ndarray:
    """P(exited = 1) per row."""
    return model.predict_proba(data[FEATURES])[:, 1]


def score_model(model, data: pd.DataFrame) -> dict[str, Any]:
    """Classification metrics of model on data; zero divisions give 0.0, ROC AUC None.

    ROC AUC is undefined (None) when the data hold a single class.
    """
    y = data[TARGET].to_numpy()
    pred = model.predict(data[FEATURES])
    proba = exit_probabilities(model, data)
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
    test_path = test_data_file(config["test_data_path"])
    scores = score_model(model, load_dataset(test_path))
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


def main() -> int:
    """Score the configured trained model on the configured test data."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    run_scoring(load_config(args.config))
    return 0


if __name__ == "__main__":
    run_cli(main, "scoring")
