"""Training: fit the attrition model on the ingested data.

Reads   output_folder_path/finaldata.csv
Writes  output_model_path/trainedmodel.skops  the fitted scikit-learn model (skops: loads
                                              without running code; the one that is used)
        output_model_path/trainedmodel.pkl    the same model pickled, for the original tools
        output_model_path/trainedmodel.json   its provenance: data hash, rows, features,
                                              hyperparameters, library versions, time
Run     python training.py [--config config.json]
"""

from __future__ import annotations

import logging
import pickle
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from common import (
    FEATURES,
    FINALDATA,
    MODEL_FILE,
    MODEL_META,
    MODEL_SKOPS,
    TARGET,
    ModelError,
    cli_parser,
    load_config,
    now_iso,
    run_cli,
    sha256_file,
    write_atomic,
    write_json,
)
from ingestion import load_dataset

log = logging.getLogger("training")


def build_model(params: dict[str, Any]) -> LogisticRegression | Pipeline:
    """The original project's logistic regression, optionally behind a StandardScaler."""
    model = LogisticRegression(
        solver=params["solver"],
        C=params["C"],
        max_iter=int(params["max_iter"]),
        random_state=int(params["random_state"]),
    )
    return make_pipeline(StandardScaler(), model) if params["scale_features"] else model


def check_training_data(data: pd.DataFrame, min_rows: int, source: str) -> None:
    """ModelError when the data cannot give a meaningful classifier."""
    if len(data) < min_rows:
        raise ModelError(
            f"{source}: {len(data)} row(s), need at least {min_rows} to train (training.min_rows)"
        )
    classes = sorted(data[TARGET].unique().tolist())
    if len(classes) < 2:
        raise ModelError(f"{source}: every row has {TARGET}={classes[0]}; need both classes")


def train_model(data: pd.DataFrame, params: dict[str, Any], source: str = "training data"):
    """Fit the model on data's FEATURES and TARGET; returns (model, convergence warning)."""
    check_training_data(data, int(params["min_rows"]), source)
    model = build_model(params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(data[FEATURES], data[TARGET])
    notes = [
        str(w.message).splitlines()[0] for w in caught if issubclass(w.category, ConvergenceWarning)
    ]
    return model, (notes[0] if notes else None)


PROFILE_BINS = 10  # deciles: the reference distribution for data-drift checks (PSI)


def feature_profile(data: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per feature: mean, std, decile edges and the share of rows in each bin.

    Saved with the model, so data drift can be measured against the model's own
    training data without keeping a copy of it.
    """
    profile = {}
    for col in FEATURES:
        values = data[col].to_numpy(dtype=float)
        inner = np.quantile(values, np.linspace(0, 1, PROFILE_BINS + 1)[1:-1])
        edges = np.unique(inner)
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        profile[col] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "edges": edges.tolist(),
            "shares": (counts / len(values)).tolist(),
        }
    return profile


def library_versions() -> dict[str, str]:
    """Versions of what the pickle depends on, to check before loading it elsewhere."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def model_metadata(
    data: pd.DataFrame, data_path: Path, params: dict[str, Any], seconds: float, warning: str | None
) -> dict[str, Any]:
    """Provenance of a trained model."""
    return {
        "trained_at": now_iso(),
        "training_data": str(data_path),
        "training_data_sha256": sha256_file(data_path),
        "rows": len(data),
        "exit_rate": round(float(data[TARGET].mean()), 6),
        "features": FEATURES,
        "target": TARGET,
        "hyperparameters": dict(params),
        "convergence_warning": warning,
        "seconds": round(seconds, 4),
        "versions": library_versions(),
        "profile": feature_profile(data),
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


def run_training(config: dict[str, Any]) -> dict[str, Any]:
    """Train on finaldata.csv and save; returns the metadata. Used by fullprocess.py too."""
    data_path = config["output_folder_path"] / FINALDATA
    if not data_path.exists():
        raise ModelError(f"{data_path}: no training data; run ingestion.py first")
    data = load_dataset(data_path)
    start = time.perf_counter()
    model, warning = train_model(data, config["training"], str(data_path))
    seconds = time.perf_counter() - start
    if warning:
        log.warning("model did not converge: %s", warning)
    metadata = model_metadata(data, data_path, config["training"], seconds, warning)
    path = save_model(model, metadata, config["output_model_path"])
    log.info(
        "trained on %d rows (exit rate %.3f) in %.3f s; wrote %s",
        len(data),
        metadata["exit_rate"],
        seconds,
        path,
    )
    return metadata


def main() -> int:
    """Train the model on the configured ingested data."""
    args = cli_parser(__doc__.splitlines()[0]).parse_args()
    run_training(load_config(args.config))
    return 0


if __name__ == "__main__":
    run_cli(main, "training")
