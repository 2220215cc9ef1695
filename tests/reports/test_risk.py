"""The risk list: ranking, bands and reasons; risk_scores.csv; /risk; the dashboard at /."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from risk_assessment.core.common import ModelError
from risk_assessment.reports import reporting, risk
from risk_assessment.sources import ingestion
from tests.conftest import (  # the default schema's columns
    COLUMNS,
    FEATURES,
    ID_COLUMN,
    TARGET,
    deploy_workspace,
    run_script,
    small_rows,
    write_csv,
)

SETTINGS = {"high": 0.5, "medium": 0.25, "top_reasons": 3}
FIRST_COLUMNS = [ID_COLUMN, "exit_probability", "rank", "risk_band", "top_reasons"]
# Current clients that look like leavers (low activity) but have not exited.
RISKY = [(f"r{i:02d}", 4 + i, 90 + 3 * i, 11, 0) for i in range(6)]
# The workspace's clients that have not exited (small_rows: every third row exits).
CURRENT = [r[0] for r in small_rows(40) + RISKY if r[4] == 0]
LN3 = math.log(3)  # -ln 3 is the log-odds of probability 0.25 (exactly, in float)


@pytest.fixture
def deployed(config):
    """The workspace (plus the RISKY current clients) with a model deployed as v0001."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY)
    deploy_workspace(config)
    return config


# --- a hand-made model with a known answer ----------------------------------------------------


def hand_model(coef: list[float], intercept: float = 0.0) -> LogisticRegression:
    """A logistic regression on FEATURES whose coefficients are set by hand."""
    X = pd.DataFrame([[0, 0, 0], [1, 1, 1], [2, 0, 1], [3, 1, 0]], columns=FEATURES)
    model = LogisticRegression(solver="liblinear").fit(X, [1, 1, 0, 0])
    model.coef_ = np.array([coef], dtype=float)
    model.intercept_ = np.array([intercept], dtype=float)
    return model


def hand_profile(means: list[float], stds: list[float]) -> dict:
    """A training profile (as training.feature_profile returns) with given means and stds."""
    return {
        f: {"mean": m, "std": s, "edges": [m], "shares": [0.5, 0.5]}
        for f, m, s in zip(FEATURES, means, stds, strict=True)
    }


def clients(rows: list[tuple]) -> pd.DataFrame:
    """A dataset of (corporation, lastmonth, lastyear, employees) rows, exited 0."""
    return pd.DataFrame([(*r, 0) for r in rows], columns=COLUMNS)


# Only lastmonth_activity matters: log-odds = -x, so lower activity is higher risk.
ONLY_LASTMONTH = [-1.0, 0.0, 0.0]
PROFILE = hand_profile([1.0, 100.0, 10.0], [2.0, 10.0, 5.0])
KNOWN = clients(
    [
        ("mean", 1.0, 100, 10),  # at the training mean: p = 0.269, no reasons
        ("half", 0.0, 100, 10),  # log-odds 0: p = 0.5 exactly, high
        ("quarter", LN3, 100, 10),  # log-odds -ln 3: p = 0.25 exactly, medium
        ("low", 3.0, 100, 10),  # p = 0.047
        ("mid", 0.5, 100, 10),  # p = 0.378
    ]
)


@pytest.fixture
def known():
    """The risk table of the hand-made model over the KNOWN clients."""
    return risk.risk_table(hand_model(ONLY_LASTMONTH), KNOWN, PROFILE, SETTINGS)


def test_rank_one_is_the_least_active_client(known):
    """The client with the lowest lastmonth_activity is rank 1; ranks follow activity."""
    assert known[ID_COLUMN].tolist() == ["half", "mid", "mean", "quarter", "low"]
    assert known["rank"].tolist() == [1, 2, 3, 4, 5]


def test_probabilities_are_the_models_and_descending(known):
    """exit_probability is sigmoid(-x), sorted from highest to lowest."""
    x = KNOWN.set_index(ID_COLUMN).loc[known[ID_COLUMN], "lastmonth_activity"].to_numpy()
    np.testing.assert_allclose(known["exit_probability"], 1 / (1 + np.exp(x)), rtol=1e-12)
    assert known["exit_probability"].is_monotonic_decreasing


def test_first_columns_and_one_contribution_per_feature(known):
    """The table starts with the five documented columns, then a contribution per feature."""
    assert known.columns[:5].tolist() == FIRST_COLUMNS
    assert {f"contribution_{f}" for f in FEATURES} <= set(known.columns)


def test_bands_follow_the_cut_offs_exactly(known):
    """p = 0.5 exactly is high, p = 0.25 exactly is medium, below 0.25 is low."""
    bands = dict(zip(known[ID_COLUMN], known["risk_band"], strict=True))
    probs = dict(zip(known[ID_COLUMN], known["exit_probability"], strict=True))
    assert probs["half"] == 0.5 and probs["quarter"] == 0.25
    assert bands == {
        "half": "high",
        "mid": "medium",
        "quarter": "medium",
        "mean": "medium",
        "low": "low",
    }


def test_bands_use_the_configured_cut_offs():
    """Other cut-offs move the bands: with high 0.3 and medium 0.1, p = 0.378 is high."""
    settings = {"high": 0.3, "medium": 0.1, "top_reasons": 3}
    table = risk.risk_table(hand_model(ONLY_LASTMONTH), KNOWN, PROFILE, settings)
    bands = dict(zip(table[ID_COLUMN], table["risk_band"], strict=True))
    assert bands == {
        "half": "high",
        "mid": "high",
        "quarter": "medium",
        "mean": "medium",
        "low": "low",
    }


def test_contribution_is_coefficient_times_distance_from_mean(known):
    """For a raw model, contribution = coef * (x - mean); zero coefficients contribute 0."""
    x = KNOWN.set_index(ID_COLUMN).loc[known[ID_COLUMN], "lastmonth_activity"].to_numpy()
    expected = -1.0 * (x - 1.0)
    np.testing.assert_allclose(known["contribution_lastmonth_activity"], expected, atol=1e-4)
    assert (known["contribution_lastyear_activity"] == 0).all()
    assert (known["contribution_number_of_employees"] == 0).all()


def test_raw_model_contribution_is_coefficient_times_standardized_value():
    """A bare model: contribution = (coef * std) * z = coef * (x - mean), per feature."""
    model = hand_model([-1.0, 0.5, 2.0])
    X = pd.DataFrame([[3.0, 90.0, 20.0]], columns=FEATURES)
    contrib, coef = risk.contributions(model, X, PROFILE)
    z = (X.to_numpy()[0] - [1.0, 100.0, 10.0]) / [2.0, 10.0, 5.0]
    np.testing.assert_allclose(contrib[0], np.array([-2.0, 5.0, 10.0]) * z)
    np.testing.assert_allclose(coef, [-1.0, 0.5, 2.0])


def test_reasons_are_positive_contributions_in_plain_words(known):
    """Below-mean activity (negative coefficient) is a reason; at or above the mean, none."""
    reasons = dict(zip(known[ID_COLUMN], known["top_reasons"], strict=True))
    assert reasons == {
        "half": "activity last month is far below average",
        "mid": "activity last month is below average",
        "quarter": "",
        "mean": "",
        "low": "",
    }


def test_reasons_are_largest_first_and_limited_to_top():
    """Several positive contributions are listed largest first, at most top_reasons."""
    model = hand_model([-1.0, 0.5, 2.0])
    data = clients([("multi", 0.0, 104.0, 9.0)])  # contributions +1.0, +2.0, -2.0
    table = risk.risk_table(model, data, PROFILE, SETTINGS)
    assert table["top_reasons"][0] == (
        "activity last year is far above average; activity last month is far below average"
    )
    one = risk.risk_table(model, data, PROFILE, {**SETTINGS, "top_reasons": 1})
    assert one["top_reasons"][0] == "activity last year is far above average"


def test_reason_degrees_follow_the_contribution():
    """Contributions of 1+ read 'far', 0.3-1 plain, below 0.3 'slightly'; none below 0.005."""
    contrib = np.array([[0.1, 0.004, 0.5], [2.0, 0.0, -1.0]])
    above = np.array([[True, True, False], [False, True, True]])
    texts = risk.reasons_per_row(contrib, above, 3)
    assert texts.tolist() == [
        "number of employees is below average; activity last month is slightly above average",
        "activity last month is far below average",
    ]


def test_client_record_reasons_match_the_table():
    """client_record gives the reasons with feature, its label, signed contribution and
    plain text."""
    model = hand_model([-1.0, 0.5, 2.0])
    table = risk.risk_table(model, clients([("multi", 0.0, 104.0, 9.0)]), PROFILE, SETTINGS)
    record = risk.client_record(table.to_dict(orient="records")[0], 3)
    assert record["reasons"] == [
        {
            "feature": "lastyear_activity",
            "label": "activity last year",
            "contribution": 2.0,
            "text": "activity last year is far above average",
        },
        {
            "feature": "lastmonth_activity",
            "label": "activity last month",
            "contribution": 1.0,
            "text": "activity last month is far below average",
        },
    ]
    assert record["contributions"] == {
        "lastmonth_activity": 1.0,
        "lastyear_activity": 2.0,
        "number_of_employees": -2.0,
    }
    assert record["rank"] == 1 and record["risk_band"] == "high"


def test_csv_and_api_agree_on_reasons_near_zero():
    """A contribution too small to show (+0.00004) is a reason in neither output."""
    data = clients([("edge", 1.0 - 0.00004, 100, 10)])
    table = risk.risk_table(hand_model(ONLY_LASTMONTH), data, PROFILE, SETTINGS)
    row = table.to_dict(orient="records")[0]
    assert risk.client_record(row, 3)["reasons"] == [] and row["top_reasons"] == ""


def fitted(steps: list, wrap: bool = False):
    """A model of the given pipeline steps fitted on small_rows (optionally a
    FixedThresholdClassifier around it), and the data, all labelled 0 (current)."""
    data = pd.DataFrame(small_rows(40), columns=COLUMNS)
    model = Pipeline(steps) if steps else LogisticRegression(solver="liblinear")
    if wrap:
        model = FixedThresholdClassifier(model, threshold=0.4)
    model.fit(data[FEATURES], data[TARGET])
    return model, data.assign(**{TARGET: 0})


LR = ("model", LogisticRegression(solver="liblinear"))
LOG = ("transform", FunctionTransformer(np.log1p, feature_names_out="one-to-one"))


@pytest.mark.parametrize(
    "steps, wrap",
    [
        ([("transform", "passthrough"), ("scale", StandardScaler()), LR], False),
        ([LOG, ("scale", StandardScaler()), LR], False),
        ([LOG, ("scale", StandardScaler()), LR], True),
    ],
    ids=["scaler", "log1p-scaler", "fixed-threshold-log1p-scaler"],
)
def test_scaled_pipelines_explain_in_their_own_space(steps, wrap):
    """After a StandardScaler, contribution = lr.coef_ * the pipeline's transformed value
    (the profile is ignored: the scaler knows better); the probability is the model's."""
    model, data = fitted(steps, wrap)
    pipe = model.estimator_ if wrap else model
    lr = pipe[-1]
    expected = lr.coef_[0] * pipe[:-1].transform(data[FEATURES])
    bogus = hand_profile([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    table = risk.risk_table(model, data, bogus, SETTINGS).set_index(ID_COLUMN)
    got = table[[f"contribution_{f}" for f in FEATURES]].loc[data[ID_COLUMN]]
    np.testing.assert_allclose(got.to_numpy(), np.asarray(expected), atol=1e-4)
    proba = model.predict_proba(data[FEATURES])[:, 1]
    np.testing.assert_allclose(table.loc[data[ID_COLUMN], "exit_probability"], proba)


def test_log_pipeline_without_scaler_is_relative_to_a_typical_client():
    """log1p then the classifier: contribution = coef * (log1p(x) - log1p(profile mean))."""
    model, data = fitted([LOG, ("scale", "passthrough"), LR], wrap=True)
    profile = hand_profile([10.0, 200.0, 12.0], [1.0, 1.0, 1.0])
    contrib, coef = risk.contributions(model, data[FEATURES], profile)
    expected = (np.log1p(data[FEATURES].to_numpy()) - np.log1p([10.0, 200.0, 12.0])) * coef
    np.testing.assert_allclose(contrib, expected)


def test_a_model_without_a_linear_classifier_is_a_model_error():
    """Something that is not (a wrapper of) a linear model cannot be explained: ModelError."""
    with pytest.raises(ModelError, match="cannot find a linear model"):
        risk.model_parts(object())


def test_current_clients_are_the_latest_rows_not_exited():
    """The latest row of each client counts; exited 1 leaves, 0 and empty (NaN) stay."""
    data = pd.DataFrame(
        [
            ("a", 0.0, 1, 1, 0),
            ("b", 2.0, 2, 2, 0),
            ("a", 5.0, 3, 3, 0),
            ("b", 2.0, 2, 2, 1),  # b exited: gone
            ("c", 1.0, 1, 1, None),  # unlabelled: current
            ("d", 1.0, 1, 1, 1),
            ("d", 4.0, 4, 4, float("nan")),  # came back, unlabelled: current
        ],
        columns=COLUMNS,
    )
    current = risk.current_clients(data)
    assert current[ID_COLUMN].tolist() == ["a", "c", "d"]
    assert current.set_index(ID_COLUMN).loc["a", "lastmonth_activity"] == 5.0
    assert current.set_index(ID_COLUMN).loc["d", "lastmonth_activity"] == 4.0


def test_risk_table_scores_the_last_row_once_per_client():
    """The risk table has one row per current client, scored on the client's last row."""
    data = clients([("a", 0.0, 100, 10), ("b", 2.0, 100, 10), ("a", 5.0, 100, 10)])
    table = risk.risk_table(hand_model(ONLY_LASTMONTH), data, PROFILE, SETTINGS)
    assert table[ID_COLUMN].tolist() == ["b", "a"]
    a = table.set_index(ID_COLUMN).loc["a"]
    assert a["exit_probability"] == pytest.approx(1 / (1 + math.exp(5.0)))
    assert a["contribution_lastmonth_activity"] == pytest.approx(-4.0)


def test_risk_table_leaves_out_exited_clients():
    """A client whose latest row says exited = 1 is not on the list; ranks stay 1..n."""
    data = pd.concat([clients([("a", 0.0, 100, 10)]), KNOWN], ignore_index=True)
    data.loc[0, TARGET] = 1
    table = risk.risk_table(hand_model(ONLY_LASTMONTH), data, PROFILE, SETTINGS)
    assert "a" not in set(table[ID_COLUMN]) and table["rank"].tolist() == [1, 2, 3, 4, 5]


# --- risk_scores.csv and the PDF --------------------------------------------------------------


def read_risk_csv(path) -> pd.DataFrame:
    """risk_scores.csv with ids as text and empty reasons as ''."""
    return pd.read_csv(path, dtype={ID_COLUMN: str}, keep_default_na=False)


def test_cli_risk_writes_the_ranked_csv_only(deployed, workspace):
    """`reporting.py --risk` writes risk_scores.csv (one row per client, ranked), no PDF."""
    done = run_script("reporting.py", "--risk", "--config", str(workspace / "config.json"))
    assert done.returncode == 0, done.stderr
    table = read_risk_csv(deployed["output_model_path"] / "risk_scores.csv")
    assert table.columns[:5].tolist() == FIRST_COLUMNS
    assert len(table) == table[ID_COLUMN].nunique() == len(CURRENT) == 32
    assert sorted(table[ID_COLUMN]) == sorted(CURRENT)
    assert table["rank"].tolist() == list(range(1, len(CURRENT) + 1))
    assert table["exit_probability"].is_monotonic_decreasing
    assert set(table["risk_band"]) <= {"high", "medium", "low"}
    assert not (deployed["output_model_path"] / "summary_report.pdf").exists()


def test_cli_risk_without_a_model_is_one_line(config, workspace):
    """Without a deployed model `reporting.py --risk` exits 1 with one log line."""
    done = run_script("reporting.py", "--risk", "--config", str(workspace / "config.json"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ERROR" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (config["output_model_path"] / "risk_scores.csv").exists()


def test_run_reporting_writes_risk_csv_and_pdf_sections(reportable):
    """run_reporting writes risk_scores.csv; the PDF has the risk table and score history."""
    paths = reporting.run_reporting(reportable)
    table = read_risk_csv(paths["risk"])
    assert paths["risk"].name == "risk_scores.csv" and len(table) == len(CURRENT)
    text = "\n".join(page.extract_text() for page in PdfReader(paths["report"]).pages)
    assert "This week's calls: the first 6 of" in text and "This week's calls (all " in text
    assert "Scores by version" in text
    assert table[ID_COLUMN][0] in text


# --- spreadsheet safety and the previous list -------------------------------------------------

FORMULA_IDS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "'=x", "\tTAB", "\rCR"]


@pytest.mark.parametrize("value", FORMULA_IDS)
def test_formula_like_cells_are_neutralised_and_reversible(value):
    """=, +, -, @, tab, CR at the start get a leading quote; unescape gives the value back."""
    safe = risk.spreadsheet_safe(value)
    assert safe == "'" + value
    assert risk.unescape_cell(safe) == value


@pytest.mark.parametrize("value", ["abcd", "a=b", "'quoted", "", "x-1"])
def test_ordinary_cells_are_unchanged(value):
    """Ids that no spreadsheet would run are written as they are."""
    assert risk.spreadsheet_safe(value) == value == risk.unescape_cell(value)


def test_people_csv_quotes_text_not_numbers():
    """Text cells are neutralised; negative numbers stay numbers."""
    table = pd.DataFrame({ID_COLUMN: ["=1+2", "ok"], "contribution_x": [-1.5, 2.0]})
    text = risk.people_csv(table)
    assert text.splitlines() == [f"{ID_COLUMN},contribution_x", "'=1+2,-1.5", "ok,2.0"]


FORMULA_ROWS = [("=HYPERLINK(1)", 5, 100, 11, 0), ("@cmd", 6, 110, 12, 0), ("+1", 7, 120, 10, 0)]


@pytest.fixture
def formula_ids(config):
    """A deployed workspace whose current clients include formula-like ids."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY + FORMULA_ROWS)
    deploy_workspace(config)
    return config


def test_risk_csv_neutralises_formula_ids(formula_ids):
    """risk_scores.csv: formula-like ids start with a quote; finaldata.csv keeps them exactly."""
    path = reporting.run_risk(formula_ids)
    text = path.read_text(encoding="utf-8")
    for corp, *_ in FORMULA_ROWS:
        assert f"\n'{corp}," in text
        assert f"\n{corp}," not in text
    finaldata = (formula_ids["output_folder_path"] / "finaldata.csv").read_text()
    assert "\n=HYPERLINK(1)," in finaldata
    back = risk.read_people_csv(path)
    assert {c for c, *_ in FORMULA_ROWS} <= set(back[ID_COLUMN])


def test_previous_list_is_kept_when_the_list_changes(deployed):
    """Writing a changed list keeps the old one as risk_scores.previous.csv; an unchanged
    list leaves the previous one alone."""
    folder = deployed["output_model_path"]
    first = reporting.run_risk(deployed).read_text()
    assert not (folder / "risk_scores.previous.csv").exists()
    reporting.run_risk(deployed)
    assert not (folder / "risk_scores.previous.csv").exists()  # nothing changed
    write_csv(deployed["input_folder_path"] / "dataset4.csv", small_rows(6, 300))
    ingestion.run_ingestion(deployed)
    second = reporting.run_risk(deployed).read_text()
    assert second != first
    assert (folder / "risk_scores.previous.csv").read_text() == first


def test_a_list_with_no_current_client_is_empty_not_an_error():
    """When every client has exited the list is empty, with its columns."""
    data = KNOWN.assign(**{TARGET: 1})
    table = risk.risk_table(hand_model(ONLY_LASTMONTH), data, PROFILE, SETTINGS)
    assert table.empty and table.columns[:5].tolist() == FIRST_COLUMNS


def test_current_clients_keeps_unlabelled_latest_rows():
    """A nullable exited column (the store's): <NA> is current, 1 has left, 0 is current."""
    data = pd.DataFrame(
        {
            ID_COLUMN: ["a", "b", "c", "a"],
            **{f: [1, 2, 3, 4] for f in FEATURES},
            TARGET: pd.array([1, 0, 1, None], dtype="Int64"),
        }
    )
    current = risk.current_clients(data)
    assert list(current[ID_COLUMN]) == ["b", "a"]  # a's latest row is unlabelled; c left


# --- the client's own change since its previous observation -----------------------------------


def test_a_collapsed_activity_is_a_reason_in_the_clients_own_numbers():
    """A client whose activity last year fell from 2,620 to 53 gets that as a reason; a
    client whose values barely moved, or moved the safe way, does not."""
    model = hand_model([0.0, -0.002, 0.0])  # less activity last year: more risk
    profile = hand_profile([100, 1000, 10], [50, 500, 5])
    data = clients(
        [
            ("mcgv", 100, 2620, 7),
            ("calm", 100, 1000, 10),
            ("up", 100, 300, 10),
            ("mcgv", 100, 53, 7),
            ("calm", 100, 990, 10),
            ("up", 100, 2000, 10),
        ]
    )
    table = risk.risk_table(model, data, profile, SETTINGS).set_index(ID_COLUMN)
    assert table.loc["mcgv", "own_change"] == "activity last year fell from 2,620 to 53"
    assert table.loc["calm", "own_change"] == "" and table.loc["up", "own_change"] == ""
    record = risk.client_record(table.reset_index().iloc[0].to_dict(), 3)
    assert record["own_change"] == ["activity last year fell from 2,620 to 53"]


def test_a_collapse_is_a_reason_even_where_the_model_sees_no_risk():
    """Activity that fell by 90% or more is told, even by a model that gives it no weight
    (as v0001 gave activity last year); a fall by half without risk is not."""
    model = hand_model([-0.01, 0.0, 0.0])  # only activity last month counts
    profile = hand_profile([100, 1000, 10], [50, 500, 5])
    data = clients([("mcgv", 100, 2620, 7), ("half", 100, 1000, 10)])
    data = pd.concat([data, clients([("mcgv", 100, 53, 7), ("half", 100, 400, 10)])])
    table = risk.risk_table(model, data, profile, SETTINGS).set_index(ID_COLUMN)
    assert table.loc["mcgv", "own_change"] == "activity last year fell from 2,620 to 53"
    assert table.loc["half", "own_change"] == ""


def test_a_repeated_observation_compares_with_the_last_different_one():
    """An exact repeat of the latest row does not hide the change before it."""
    model = hand_model([0.0, -0.002, 0.0])
    profile = hand_profile([100, 1000, 10], [50, 500, 5])
    data = clients([("mcgv", 100, 2620, 7), ("mcgv", 100, 53, 7), ("mcgv", 100, 53, 7)])
    table = risk.risk_table(model, data, profile, SETTINGS)
    assert table["own_change"].tolist() == ["activity last year fell from 2,620 to 53"]
