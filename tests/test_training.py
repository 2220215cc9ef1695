"""Training: the model, its metadata, and clear failures on data it cannot learn from."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest
from conftest import run_script, small_rows, write_csv

import ingestion
import training
from common import FEATURES, MODEL_FILE, MODEL_META, ModelError, sha256_file


def features(*rows: list[int]) -> pd.DataFrame:
    """Feature rows as the model expects them: a DataFrame with named columns."""
    return pd.DataFrame(rows, columns=FEATURES)


def test_trains_and_saves_model_with_metadata(config):
    """The pickle predicts, and its metadata records data hash, rows, params, versions."""
    ingestion.run_ingestion(config)
    meta = training.run_training(config)
    folder = config["output_model_path"]
    model = pickle.loads((folder / MODEL_FILE).read_bytes())
    assert set(model.predict(features([5, 100, 10], [200, 4000, 10]))) <= {0, 1}
    saved = json.loads((folder / MODEL_META).read_text())
    assert saved["model_sha256"] == sha256_file(folder / "trainedmodel.skops")
    assert saved["pickle_sha256"] == sha256_file(folder / MODEL_FILE)
    data = config["output_folder_path"] / "finaldata.csv"
    assert saved["training_data_sha256"] == sha256_file(data)
    assert saved["rows"] == meta["rows"] == 40
    assert saved["features"] == FEATURES
    assert saved["hyperparameters"]["solver"] == "liblinear"
    assert saved["hyperparameters"]["C"] == 1.0
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(saved["versions"])


def test_model_learns_the_signal(config):
    """On clearly separable data the model ranks low activity as riskier."""
    ingestion.run_ingestion(config)
    training.run_training(config)
    model = pickle.loads((config["output_model_path"] / MODEL_FILE).read_bytes())
    low, high = model.predict_proba(features([5, 100, 12], [150, 3000, 12]))[:, 1]
    assert low > high


def test_scaler_is_a_config_choice(config):
    """training.scale_features puts a StandardScaler in front of the regression."""
    plain = training.build_model(config["training"])
    scaled = training.build_model({**config["training"], "scale_features": True})
    assert type(plain).__name__ == "LogisticRegression"
    assert [name for name, _ in scaled.steps] == ["standardscaler", "logisticregression"]


def test_single_class_is_a_clear_error(config):
    """Training data where nobody exited ends in ModelError naming the file."""
    rows = [r[:-1] + (0,) for r in small_rows(20)]
    path = write_csv(config["output_folder_path"] / "finaldata.csv", rows)
    with pytest.raises(ModelError, match="need both classes") as err:
        training.run_training(config)
    assert str(path) in str(err.value)


def test_too_few_rows_is_a_clear_error(config):
    """Fewer rows than training.min_rows ends in ModelError naming the setting."""
    write_csv(config["output_folder_path"] / "finaldata.csv", small_rows(4))
    with pytest.raises(ModelError, match="min_rows"):
        training.run_training(config)


def test_missing_training_data_says_run_ingestion(config):
    """Without finaldata.csv the message says what to run."""
    with pytest.raises(ModelError, match="run ingestion.py"):
        training.run_training(config)


def test_cli_failure_is_one_line_without_traceback(workspace):
    """The script exits 1 with one error line when training is impossible."""
    write_csv(workspace / "ingesteddata" / "finaldata.csv", small_rows(3))
    done = run_script("training.py", "--config", str(workspace / "config.json"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "min_rows" in errors[0]
    assert not (workspace / "models" / MODEL_FILE).exists()


def test_failed_training_keeps_previous_model(config):
    """A failed retrain leaves the previous model and metadata untouched."""
    ingestion.run_ingestion(config)
    training.run_training(config)
    before = (config["output_model_path"] / MODEL_FILE).read_bytes()
    write_csv(config["output_folder_path"] / "finaldata.csv", small_rows(3))
    with pytest.raises(ModelError):
        training.run_training(config)
    assert (config["output_model_path"] / MODEL_FILE).read_bytes() == before
