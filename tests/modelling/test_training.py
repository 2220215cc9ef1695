"""Training: the model, its metadata, and clear failures on data it cannot learn from."""

from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from risk_assessment.core.columns import parse_schema
from risk_assessment.core.common import (
    MODEL_FILE,
    MODEL_META,
    ModelError,
    sha256_file,
)
from risk_assessment.core.settings import DEFAULTS
from risk_assessment.modelling import training
from risk_assessment.schema.dataset import load_dataset
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from tests.conftest import (
    FEATURES,  # the default schema's columns
    run_script,
    small_rows,
    write_config,
    write_csv,
)


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
    assert saved["hyperparameters"]["solver"] == "lbfgs"
    assert saved["hyperparameters"]["C"] == 1.0
    assert saved["threshold"] == saved["selection"]["threshold"] == model.threshold
    assert saved["selection"]["transform"] in ("raw", "log")
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(saved["versions"])


def test_metadata_records_the_settings_that_produced_the_model(config):
    """trainedmodel.json holds the training, drift, gate and risk settings of its config."""
    ingestion.run_ingestion(config)
    config["training"]["C"] = 0.5
    config["model_drift"]["rule"] = "raw"
    config["risk"]["high"] = 0.6
    training.run_training(config)
    saved = json.loads((config["output_model_path"] / MODEL_META).read_text())
    sections = ("training", "model_drift", "data_drift", "gate", "risk")
    assert set(saved["settings"]) == set(sections)
    for section in sections:
        assert saved["settings"][section] == config[section], section
    assert saved["settings"]["training"]["C"] == 0.5
    assert saved["settings"]["model_drift"]["rule"] == "raw"
    assert saved["settings"]["risk"]["high"] == 0.6


def test_model_learns_the_signal(config):
    """On clearly separable data the model ranks low activity as riskier."""
    ingestion.run_ingestion(config)
    training.run_training(config)
    model = pickle.loads((config["output_model_path"] / MODEL_FILE).read_bytes())
    low, high = model.predict_proba(features([5, 100, 12], [150, 3000, 12]))[:, 1]
    assert low > high


def test_pipeline_steps_follow_the_config(config):
    """transform and scale_features choose the counts' steps in the ColumnTransformer
    (passthrough when off)."""
    plain = training.build_model({**config["training"], "scale_features": False}, "raw")
    logged = training.build_model(config["training"], "log")
    assert [name for name, _ in plain.steps] == ["columns", "model"]
    counts = dict((n, s) for n, s, _ in plain.named_steps["columns"].transformers)["counts"]
    assert [name for name, _ in counts.steps] == ["transform", "scale"]
    assert counts.named_steps["transform"] == counts.named_steps["scale"] == "passthrough"
    counts = dict((n, s) for n, s, _ in logged.named_steps["columns"].transformers)["counts"]
    assert type(counts.named_steps["transform"]).__name__ == "FunctionTransformer"
    assert type(counts.named_steps["scale"]).__name__ == "StandardScaler"


def known_world(n: int, seed: int, log_linear: bool) -> pd.DataFrame:
    """Clients whose true logit is linear in log1p(counts) (heavy tails) or in the counts."""
    rng = np.random.default_rng(seed)
    if log_linear:
        counts = np.round(np.exp(rng.normal([4.0, 6.5, 3.0], [1.2, 1.1, 1.0], (n, 3))))
        z = (np.log1p(counts) - [4.0, 6.5, 3.0]) / [1.2, 1.1, 1.0]
    else:
        counts = np.round(rng.uniform(0, 200, (n, 3)))
        z = (counts - 100) / 58
    p = 1 / (1 + np.exp(-(-1.0 + z @ np.array([-2.0, 0.7, -0.8]))))
    data = pd.DataFrame(counts.astype(int), columns=FEATURES)
    data["exited"] = (rng.random(n) < p).astype(int)
    return data


@pytest.mark.parametrize("log_linear, expected", [(True, "log"), (False, "raw")])
def test_transform_is_chosen_by_cross_validated_log_loss(log_linear, expected):
    """Heavy-tailed counts with a log-linear truth choose log1p; a linear truth, raw."""
    data = known_world(3000, 1, log_linear)
    _, _, selection = training.fit_with_selection(data, DEFAULTS["training"])
    assert selection["transform"] == expected
    losses = selection["cv_logloss"]
    assert losses[expected] == min(losses.values())


def test_cut_off_is_tuned_stored_and_used_by_predict():
    """The out-of-fold F1-optimal cut-off is the model's threshold, and predict uses it."""
    data = known_world(3000, 2, True)
    model, _, selection = training.fit_with_selection(data, DEFAULTS["training"])
    assert model.threshold == selection["threshold"] != 0.5
    assert selection["cv_f1_tuned"] >= selection["cv_f1_at_0.5"]
    proba = model.predict_proba(data[FEATURES])[:, 1]
    assert (model.predict(data[FEATURES]) == (proba >= model.threshold)).all()
    fixed, _, sel = training.fit_with_selection(
        data, {**DEFAULTS["training"], "tune_threshold": False, "transform": "raw"}
    )
    assert (
        fixed.threshold == 0.5 and sel["transform"] == "raw" and list(sel["cv_logloss"]) == ["raw"]
    )


def test_probabilities_are_calibrated_on_new_rows():
    """On fresh rows of the same world, observed and predicted exits agree, per decile too."""
    model, _ = training.train_model(known_world(5000, 3, True), DEFAULTS["training"])
    fresh = known_world(20000, 4, True)
    p = model.predict_proba(fresh[FEATURES])[:, 1]
    assert abs(fresh["exited"].mean() - p.mean()) < 0.02  # 5,000 training rows: not exact
    deciles = np.array_split(np.argsort(p), 10)
    gaps = [abs(fresh["exited"].to_numpy()[i].mean() - p[i].mean()) for i in deciles]
    assert max(gaps) < 0.04


def test_sample_weight_zero_rows_do_not_count():
    """Rows weighted 0 change nothing: the fit equals one on the other rows alone."""
    old, new = known_world(2000, 5, True), known_world(2000, 6, False)
    params = {**DEFAULTS["training"], "C": 1e6, "transform": "log", "tune_threshold": False}
    both = pd.concat([old, new], ignore_index=True)
    weights = np.r_[np.zeros(len(old)), np.ones(len(new))]
    weighted, _ = training.train_model(both, params, sample_weight=weights)
    alone, _ = training.train_model(new, params)
    unweighted, _ = training.train_model(both, params)
    probe = known_world(500, 7, False)[FEATURES]
    p_w, p_a = (m.predict_proba(probe)[:, 1] for m in (weighted, alone))
    np.testing.assert_allclose(p_w, p_a, atol=1e-3)
    assert np.abs(unweighted.predict_proba(probe)[:, 1] - p_a).max() > 0.05


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
    config["training"]["min_rows"] = 1_000  # this retrain cannot succeed
    with pytest.raises(ModelError):
        training.run_training(config)
    assert (config["output_model_path"] / MODEL_FILE).read_bytes() == before


def test_large_data_choose_on_a_sample_and_fit_on_every_row(monkeypatch):
    """Above SELECTION_ROWS the choice is cross-validated on a sample; the fit uses all rows."""
    monkeypatch.setattr(training, "SELECTION_ROWS", 500)
    data = known_world(2000, 8, True)
    model, _, selection = training.fit_with_selection(data, DEFAULTS["training"])
    assert selection["cv_rows"] == 500
    full = training.build_model(DEFAULTS["training"], selection["transform"])
    full.fit(data[FEATURES], data["exited"])
    np.testing.assert_allclose(
        model.estimator_.named_steps["model"].coef_, full.named_steps["model"].coef_
    )


def test_an_optional_feature_without_any_value_is_imputed_not_a_traceback():
    """An optional number and boolean whose cells are all empty in the training data (the
    first files lack the columns): training fits (they impute to 0, and a value given later
    scores); before, the imputer dropped them and StandardScaler raised a ValueError."""
    from risk_assessment.core.columns import parse_schema

    schema = parse_schema({
        "id": "acct", "target": "churn",
        "features": {
            "x": {"type": "integer", "min": 0},
            "spend": {"type": "number", "required": False},
            "renew": {"type": "boolean", "required": False},
        },
    })  # fmt: skip
    data = known_world(300, 8, True).rename(columns={FEATURES[0]: "x", "exited": "churn"})
    data = data.assign(spend=np.nan, renew=np.nan)[["x", "spend", "renew", "churn"]]
    model, _ = training.train_model(data, DEFAULTS["training"], schema=schema)
    probe = pd.DataFrame({"x": [5, 5], "spend": [np.nan, 120.5], "renew": [np.nan, 1.0]})
    assert set(model.predict(probe)) <= {0, 1} and model.predict_proba(probe).shape == (2, 2)


# finaldata.csv's cells as a user might have them: ids and levels with commas, quotes and
# words that parsers read as missing; optional features left empty
EXPORT_SCHEMA = {
    "id": "account",
    "target": {"column": "churned", "positive": "yes", "negative": "no"},
    "value": "acv",
    "features": {
        "seats": {"type": "integer", "min": 0},
        "tickets": {"type": "integer", "min": 0, "required": False},
        "spend": {"type": "number", "required": False},
        "plan": {"type": "category", "required": False},
        "trial": {"type": "boolean", "required": False},
        "renews": {"type": "boolean"},
    },
}
EXPORT_HEADER = "account,seats,tickets,spend,plan,trial,renews,churned,acv"


def export_rows(n: int) -> list[tuple]:
    """n rows of EXPORT_SCHEMA with every kind of awkward cell."""
    plans = ["basic", 'pro, "annual"', "NA", "null", "", "None", " 7"]
    return [
        (
            f'a{i},"x"' if i % 5 == 0 else f"{i:05d}",
            i % 40,
            "" if i % 4 == 0 else i % 9,
            "" if i % 6 == 0 else f"{(i - 50) * 1.0000001:.7f}",
            plans[i % len(plans)],
            ["", "yes", "0"][i % 3],
            ["True", "no"][i % 2],
            ["yes", "no", "no"][i % 3],
            "" if i % 8 == 0 else 100 + i / 3,
        )
        for i in range(n)
    ]


@pytest.fixture
def exported(tmp_path):
    """An installation of EXPORT_SCHEMA, its file ingested: finaldata.csv written by the store."""
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "one.csv", "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([EXPORT_HEADER.split(","), *export_rows(90)])
    config = write_config(tmp_path, schema=EXPORT_SCHEMA)
    ingestion.run_ingestion(config)
    return config


def test_the_stores_own_export_is_typed_as_the_rules_type_it(exported):
    """Training reads the store's own finaldata.csv (its sha256 as the store recorded it)
    straight into types: the same frame, cell for cell and type for type, as every rule
    of the schema gives, missing values and quoted text included."""
    folder, schema = exported["output_folder_path"], exported["schema"]
    data, sha = training.read_training_set(folder, schema)
    assert sha == store.export_sha256(folder, schema) == sha256_file(folder / "finaldata.csv")
    pd.testing.assert_frame_equal(data, load_dataset(folder / "finaldata.csv", schema))
    assert data["plan"].isna().sum() > 0 and data["tickets"].isna().sum() > 0
    assert 'pro, "annual"' in set(data["plan"]) and "NA" in set(data["plan"])


def test_an_edited_finaldata_goes_through_every_rule(exported, caplog):
    """A finaldata.csv the store did not write (edited by hand) is read through the
    schema's rules: a bad row in it is left out with a warning, never trained on."""
    folder, schema = exported["output_folder_path"], exported["schema"]
    before = load_dataset(folder / "finaldata.csv", schema)
    with open(folder / "finaldata.csv", "a", encoding="utf-8") as out:
        out.write("z1,12.5,1,1.0,basic,yes,no,1,100\n")
    data, _ = training.read_training_set(folder, schema)
    pd.testing.assert_frame_equal(data, before)
    assert any("1 bad row(s) left out" in r.getMessage() and "non-integer seats" in
               r.getMessage() for r in caplog.records)  # fmt: skip
    other = parse_schema({**EXPORT_SCHEMA, "features": {"seats": {"type": "integer"}}})
    assert store.export_sha256(folder, other) is None  # written under another schema
