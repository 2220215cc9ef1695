"""Scoring: metrics on the test data, latestscore.txt as a plain number, edge cases."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from risk_assessment.core.common import SCORE_FILE, SCORES_JSON, DataError, ModelError, sha256_file
from risk_assessment.modelling import scoring, training
from risk_assessment.schema import dataset
from risk_assessment.sources import ingestion
from tests.conftest import (  # the default schema's columns
    FEATURES,
    TARGET,
    run_script,
    small_rows,
    write_csv,
)


@pytest.fixture
def trained(config):
    """The workspace with ingested data and a trained model."""
    ingestion.run_ingestion(config)
    training.run_training(config)
    return config


class Constant:
    """A stand-in classifier predicting one class: to reach the zero-division cases."""

    def __init__(self, label: int):
        self.label = label

    def predict(self, x):
        return [self.label] * len(x)

    def predict_proba(self, x):
        import numpy as np

        return np.tile([1.0 - self.label, float(self.label)], (len(x), 1))


def test_writes_f1_as_plain_number_and_all_metrics(trained):
    """latestscore.txt holds float()-readable F1; scores.json holds every metric."""
    scores = scoring.run_scoring(trained)
    folder = trained["output_model_path"]
    assert float((folder / SCORE_FILE).read_text()) == scores["f1"]
    saved = json.loads((folder / SCORES_JSON).read_text())
    for key in ("f1", "precision", "recall", "roc_auc", "accuracy", "rows", "confusion_matrix"):
        assert key in saved
    assert saved["rows"] == 15
    assert saved["model_sha256"] == sha256_file(folder / "trainedmodel.skops")
    assert 0.0 <= saved["f1"] <= 1.0


def test_metrics_match_a_hand_count():
    """Metrics equal a hand count on a tiny known confusion matrix."""
    data = pd.DataFrame({f: [0, 0, 0, 0] for f in FEATURES} | {TARGET: [1, 1, 0, 0]})

    class Fixed:
        def predict(self, x):
            return [1, 0, 1, 0]

        def predict_proba(self, x):
            import numpy as np

            return np.array([[0.1, 0.9], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])

    scores = scoring.score_model(Fixed(), data)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5
    assert scores["confusion_matrix"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    assert scores["roc_auc"] == 0.75


def test_zero_division_gives_defined_values_and_no_warning():
    """A model that never predicts an exit scores 0.0, without warnings."""
    data = pd.DataFrame({f: [1, 2, 3] for f in FEATURES} | {TARGET: [1, 0, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = scoring.score_model(Constant(0), data)
    assert scores["f1"] == 0.0 and scores["precision"] == 0.0 and scores["recall"] == 0.0


def test_single_class_test_data_has_no_roc_auc():
    """ROC AUC is None (undefined) when the test data hold one class only."""
    data = pd.DataFrame({f: [1, 2] for f in FEATURES} | {TARGET: [0, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = scoring.score_model(Constant(1), data)
    assert scores["roc_auc"] is None and scores["f1"] == 0.0


def test_test_data_path_may_be_a_file(trained):
    """test_data_path pointing straight at a CSV file is accepted."""
    path = trained["test_data_path"] / "testdata.csv"
    scores = scoring.run_scoring({**trained, "test_data_path": path})
    assert scores["test_data"] == str(path)


def test_missing_model_is_a_clear_error(config):
    """Without a trained model the message says to run training.py."""
    with pytest.raises(ModelError, match="run training.py"):
        scoring.run_scoring(config)


def test_tampered_model_is_refused(trained):
    """A model file changed after training fails verification before unpickling."""
    path = trained["output_model_path"] / "trainedmodel.skops"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelError, match="refusing to load"):
        scoring.run_scoring(trained)


def test_bad_test_data_names_the_file_and_column(trained):
    """Test data missing a column fails with the file and column named."""
    path = write_csv(
        trained["test_data_path"] / "testdata.csv",
        [r[:3] for r in small_rows(5)],
        header="corporation,lastmonth_activity,lastyear_activity",
    )
    with pytest.raises(DataError) as err:
        scoring.run_scoring(trained)
    assert str(path) in str(err.value) and "number_of_employees" in str(err.value)


def test_failed_scoring_keeps_previous_score(trained):
    """A failed rescore leaves latestscore.txt as it was."""
    scoring.run_scoring(trained)
    before = (trained["output_model_path"] / SCORE_FILE).read_bytes()
    (trained["test_data_path"] / "testdata.csv").write_text("")
    with pytest.raises(DataError, match="empty file"):
        scoring.run_scoring(trained)
    assert (trained["output_model_path"] / SCORE_FILE).read_bytes() == before


def test_cli_reports_missing_model_in_one_line(workspace):
    """The script exits 1 with one error line and no traceback when there is no model."""
    done = run_script("scoring.py", "--config", str(workspace / "config.json"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert [ln for ln in done.stderr.splitlines() if " ERROR " in ln][0].endswith(
        "no trained model; run training.py"
    )


def test_stored_cut_off_decides_in_scoring_and_predictions(config):
    """score_model and the API's model_predictions classify at the model's own cut-off."""
    import numpy as np
    from sklearn.model_selection import FixedThresholdClassifier

    from risk_assessment.reports import diagnostics

    ingestion.run_ingestion(config)
    data = dataset.load_dataset(config["output_folder_path"] / "finaldata.csv")
    model, _ = training.train_model(data, config["training"])
    proba = scoring.exit_probabilities(model, data)
    cut = float(np.quantile(proba, 0.8))  # far from 0.5: many rows change class
    moved = FixedThresholdClassifier(model.estimator_, threshold=cut)
    moved.estimator_ = model.estimator_
    expected = (proba >= cut).astype(int)
    assert (expected != (proba >= 0.5)).any()
    cm = scoring.score_model(moved, data)["confusion_matrix"]
    assert cm["tp"] + cm["fp"] == expected.sum()
    preds = diagnostics.model_predictions(data, moved)
    assert preds["prediction"].tolist() == expected.tolist()
