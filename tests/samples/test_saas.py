"""The SaaS example: reproducible, in the schema of examples/saas/config.json, and its later
batch drifts as designed (level shares move, a new level, and a refit predicts it better)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from risk_assessment.core.settings import load_config
from risk_assessment.samples import saas
from tests.conftest import ROOT, run_script

CONFIG = ROOT / "examples" / "saas" / "config.json"
BATCH = "sourcedata/accounts_2026h1.csv"
PRACTICE = ["practicedata/accounts_2025h1.csv", "practicedata/accounts_2025h2.csv"]


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    """Every file of the example, as text."""
    return saas.example_files()


@pytest.fixture(scope="module")
def schema():
    """The example's schema, through the one config loader."""
    return load_config(CONFIG)["schema"]


def frame(text: str, schema) -> pd.DataFrame:
    """A file's text cells under the schema's names (case-insensitive header, aliases)."""
    data = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    names = [c.strip().lower() for c in data.columns]
    data.columns = [schema.aliases.get(c, c) for c in names]
    return data


def test_same_bytes_every_time_and_from_the_script(files, tmp_path):
    """example_files() is deterministic; generate_data.py --example saas writes exactly it."""
    assert saas.example_files() == files
    done = run_script("generate_data.py", "--example", "saas", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.csv")}
    assert written == files
    assert saas.example_files(seed=1) != files


def test_the_config_asks_for_the_richer_schema(schema):
    """At least eight features: two categories (one with levels), a boolean, a decimal, a
    negative-valued one; a value column; text target labels; an alias in the header."""
    kinds = [f.type for f in schema.features]
    assert len(kinds) >= 8 and kinds.count("category") >= 2 and "boolean" in kinds
    assert any(f.levels for f in schema.features if f.type == "category")
    assert any(f.type == "number" for f in schema.features)
    assert any(f.min is not None and f.min < 0 for f in schema.features)
    assert any(not f.required for f in schema.features)
    assert schema.value and schema.target.positive == "yes" and schema.target.negative == "no"
    assert schema.aliases == {"client_id": "account"}


def test_every_file_has_the_schema_columns_and_valid_cells(files, schema):
    """Headers map onto the schema's columns; numbers in bounds, categories in their levels,
    booleans true/false, labels yes/no (empty only in the current accounts' file)."""
    for rel, text in files.items():
        data = frame(text, schema)
        assert sorted(data.columns) == sorted(schema.columns), rel
        assert data[schema.id].is_unique, rel
        for f in schema.features:
            cells = data[f.name][data[f.name] != ""]
            assert len(cells) == len(data) or not f.required, (rel, f.name)
            if f.numeric:
                values = pd.to_numeric(cells)
                assert values.ge(f.min if f.min is not None else -np.inf).all(), (rel, f.name)
                assert values.le(f.max if f.max is not None else np.inf).all(), (rel, f.name)
            if f.levels:
                assert set(cells) <= set(f.levels), (rel, f.name)
            if f.type == "boolean":
                assert set(cells) == {"true", "false"}, rel
        labels = set(data[schema.target.column])
        assert labels == ({""} if "current" in rel else {"yes", "no"}), rel
        assert pd.to_numeric(data[schema.value]).ge(0).all(), rel


def test_current_accounts_are_practice_accounts_that_stayed(files, schema):
    """The unlabelled file re-observes accounts that stayed, with their industry and plan."""
    old = pd.concat([frame(files[r], schema) for r in PRACTICE]).set_index("account")
    now = frame(files["practicedata/accounts_current.csv"], schema).set_index("account")
    assert len(now) == saas.CURRENT_FILE[2] and set(now.index) <= set(old.index)
    assert (old.loc[now.index, "churned"] == "no").all()
    assert (old.loc[now.index, ["industry", "plan"]] == now[["industry", "plan"]]).all().all()


def test_the_batch_drifts_in_industry_shares_and_a_new_level(files, schema):
    """Retail grows from about 15% to about 35%; mining appears only in the batch."""
    old = pd.concat([frame(files[r], schema) for r in PRACTICE])
    new = frame(files[BATCH], schema)
    old_share, new_share = (d["industry"].value_counts(normalize=True) for d in (old, new))
    assert 0.12 < old_share["retail"] < 0.18 and 0.31 < new_share["retail"] < 0.39
    assert "mining" not in old_share and 0.02 < new_share["mining"] < 0.06
    old_region, new_region = (d["region"].value_counts(normalize=True) for d in (old, new))
    assert (old_region - new_region).abs().max() < 0.04  # region does not move


def model_frame(text: str, schema) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (usage's empty cells as its median) and the 0/1 outcome of a file."""
    data = frame(text, schema)
    X = data[schema.feature_names].copy()
    numeric = [f.name for f in schema.features if f.numeric]
    X[numeric] = X[numeric].apply(pd.to_numeric)
    X["usage_per_seat"] = X["usage_per_seat"].fillna(X["usage_per_seat"].median())
    return X, (data[schema.target.column] == "yes").to_numpy(int)


def test_a_refit_predicts_the_batch_better_concept_drift(files, schema):
    """Retail churns far more in the batch, and a model refit on half the batch beats the
    old model on the other half by a wide log-loss margin."""
    old_X, old_y = model_frame(files[PRACTICE[0]] + files[PRACTICE[1]].split("\n", 1)[1], schema)
    new_X, new_y = model_frame(files[BATCH], schema)
    retail_old, retail_new = (
        old_y[old_X["industry"] == "retail"],
        new_y[new_X["industry"] == "retail"],
    )
    assert retail_new.mean() > retail_old.mean() + 0.25
    categories = [f.name for f in schema.features if not f.numeric]
    numeric = [f.name for f in schema.features if f.numeric]

    def fit(X, y):
        columns = ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), categories),
             ("num", StandardScaler(), numeric)]
        )  # fmt: skip
        return make_pipeline(columns, LogisticRegression(max_iter=1000)).fit(X, y)

    half = len(new_y) // 2
    deployed = fit(old_X, old_y).predict_proba(new_X.iloc[half:])[:, 1]
    refit = fit(new_X.iloc[:half], new_y[:half]).predict_proba(new_X.iloc[half:])[:, 1]
    assert log_loss(new_y[half:], deployed) > log_loss(new_y[half:], refit) + 0.03
