"""monitoring.py: each statistic on data with a known answer (a generator of known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from risk_assessment.modelling.training import feature_profile
from risk_assessment.monitoring import statistics as m
from risk_assessment.reports import diagnostics
from tests.conftest import FEATURES  # the default schema's columns

OLD = (-1.0, np.array([-1.5, 0.5, -0.8]))  # intercept, coefficients on standardized logs
NEW = (-0.8, np.array([0.6, -1.5, 1.2]))  # concept drift: another relationship
RATE = (0.2, OLD[1])  # same relationship, about twice the exits


def generate(n: int, seed: int, world=OLD, shift: float = 0.0):
    """(frame of counts, log features, labels, true probability) from a known logistic world."""
    rng = np.random.default_rng(seed)
    logs = rng.normal([4.0 + shift, 6.5 + shift, 3.0 + shift], [1.2, 1.1, 1.0], (n, 3))
    frame = pd.DataFrame(np.round(np.exp(logs)).astype(int), columns=FEATURES)
    z = (logs - [4.0, 6.5, 3.0]) / [1.2, 1.1, 1.0]
    p = 1 / (1 + np.exp(-(world[0] + z @ world[1])))
    return frame, z, (rng.random(n) < p).astype(int), p


def true_p(z, world=OLD):
    """The world's probability for standardized log features z."""
    return 1 / (1 + np.exp(-(world[0] + z @ world[1])))


def fit_lr(X, y):
    """The refit used by the detection tests."""
    return LogisticRegression(C=100.0).fit(X, y)


# ---- cross-fitting -------------------------------------------------------------------------


def test_cross_fitted_probabilities_never_score_a_row_with_a_model_trained_on_it():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = rng.integers(0, 2, 300)  # pure noise: only memorising could "predict" it
    p = m.cross_fitted_probabilities(X, y, lambda a, b: KNeighborsClassifier(1).fit(a, b))
    in_sample = KNeighborsClassifier(1).fit(X, y).predict_proba(X)[:, 1]
    assert np.mean((in_sample >= 0.5) == y) == 1.0
    assert abs(np.mean((p >= 0.5) == y) - 0.5) < 0.1


def test_cross_fitted_probabilities_fold_with_one_class_uses_the_training_rate():
    X = np.arange(20, dtype=float).reshape(-1, 1)
    y = np.zeros(20, dtype=int)
    y[3] = 1  # a single exit: the fold that holds it trains on zeros only
    p = m.cross_fitted_probabilities(X, y, fit_lr, folds=5, seed=1)
    assert p.shape == (20,) and np.all((p >= 0) & (p <= 1))
    assert p[3] == 0.0


def test_cross_fitted_probabilities_accept_a_dataframe():
    frame, _, y, _ = generate(200, 1)
    p = m.cross_fitted_probabilities(frame, y, fit_lr, folds=4)
    assert p.shape == (200,) and 0 < p.mean() < 1


# ---- detection ---------------------------------------------------------------------------


def test_paired_logloss_test_clean_batch_no_drift_drifted_batch_drift():
    _, z, y, p = generate(1000, 2)
    clean = m.paired_logloss_test(y, p, m.cross_fitted_probabilities(z, y, fit_lr), 0.05)
    assert not clean.verdict and clean.p_value > 0.05 and clean.low <= 0
    _, z, y, _ = generate(1000, 3, NEW)
    drifted = m.paired_logloss_test(y, true_p(z), m.cross_fitted_probabilities(z, y, fit_lr))
    assert drifted.verdict and drifted.p_value < 1e-6
    assert drifted.low > 0 and drifted.effect > 0.1
    assert drifted.n == 1000 and "log-loss" in drifted.compared


def test_paired_logloss_test_false_alarms_stay_near_alpha():
    alarms = 0
    for seed in range(40):
        _, z, y, p = generate(300, 100 + seed)
        refit = m.cross_fitted_probabilities(z, y, fit_lr, seed=seed)
        alarms += m.paired_logloss_test(y, p, refit, 0.05).verdict
    assert alarms <= 5  # the deployed model is the truth: the refit can only tie it


def test_paired_logloss_test_interval_matches_p_value():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    a, b = rng.uniform(0.05, 0.95, 200), rng.uniform(0.05, 0.95, 200)
    v = m.paired_logloss_test(y, a, b, 0.1)
    assert (v.low > 0) == (v.p_value < 0.1)
    assert v.low <= v.effect <= v.high


def test_calibration_test_sees_an_exit_rate_shift_not_a_clean_batch():
    _, z, y, p = generate(2000, 5)
    clean = m.calibration_test(y, p, 0.05)
    assert not clean.verdict and clean.low <= 0 <= clean.high
    _, z, y, p_new = generate(2000, 6, RATE)
    shifted = m.calibration_test(y, true_p(z), 0.05)
    assert shifted.verdict and shifted.p_value < 1e-6
    true_gap = p_new.mean() - true_p(z).mean()
    assert shifted.low <= true_gap <= shifted.high


# ---- data drift --------------------------------------------------------------------------


def test_psi_is_zero_for_equal_shares_and_diagnostics_uses_the_same_function():
    assert m.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert m.psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * np.log(9))
    assert diagnostics.psi is m.psi


def test_binned_chi_square_is_size_aware_unlike_psi():
    train, *_ = generate(5000, 7)
    prof = feature_profile(train)["lastmonth_activity"]
    small_alarms = psi_alarms = 0
    for seed in range(100):
        batch, *_ = generate(50, 200 + seed)
        v = m.binned_chi_square(prof["edges"], prof["shares"], batch["lastmonth_activity"])
        small_alarms += v.verdict
        counts = m.bin_counts(prof["edges"], batch["lastmonth_activity"], len(prof["shares"]))
        psi_alarms += m.psi(prof["shares"], counts / 50) > 0.25
    assert small_alarms <= 12  # about alpha = 5% of clean 50-row batches
    assert psi_alarms > 2 * small_alarms  # PSI's small-sample bias calls many of them drift


def test_binned_chi_square_small_shift_significant_only_on_a_large_batch():
    train, *_ = generate(5000, 8)
    prof = feature_profile(train)["lastmonth_activity"]
    small, *_ = generate(50, 9, shift=0.2)
    large, *_ = generate(20000, 10, shift=0.2)
    v_small = m.binned_chi_square(prof["edges"], prof["shares"], small["lastmonth_activity"])
    v_large = m.binned_chi_square(prof["edges"], prof["shares"], large["lastmonth_activity"])
    assert not v_small.verdict and v_large.verdict and v_large.p_value < 1e-10
    both = m.binned_chi_square(prof["edges"], prof["shares"], large["lastmonth_activity"], 5000)
    assert both.p_value >= v_large.p_value  # the reference's own noise makes it humbler


def test_holm_adjusts_known_values():
    assert m.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_data_drift_verdict_clean_and_shifted_batches():
    train, *_ = generate(5000, 11)
    profile = feature_profile(train)
    clean, *_ = generate(2000, 12)
    shifted, *_ = generate(2000, 13, shift=0.7)
    v_clean = m.data_drift_verdict(profile, clean, 0.05, reference_rows=5000)
    v_shift = m.data_drift_verdict(profile, shifted, 0.05, reference_rows=5000)
    assert not v_clean.verdict and v_shift.verdict and v_shift.n == 2000
    assert [f.feature for f in v_shift.features] == FEATURES
    assert all(f.drift and f.psi > 0.25 for f in v_shift.features)
    assert all(f.p_adjusted >= f.chi_square.p_value for f in v_clean.features)


# ---- label-free estimate -----------------------------------------------------------------


def test_cbpe_estimate_interval_covers_the_realised_f1():
    covered = 0
    for seed in range(40):
        _, _, y, p = generate(500, 300 + seed)
        est = m.cbpe_estimate(p, 0.35, draws=300, seed=seed)
        covered += est.f1_low <= f1_score(y, p >= 0.35) <= est.f1_high
    assert covered >= 34  # a 95% interval
    assert 0 < est.precision <= 1 and 0 < est.recall <= 1 and est.n == 500


def test_cbpe_estimate_cannot_see_concept_drift():
    _, z, _, _ = generate(2000, 14)
    _, _, y_new, _ = generate(2000, 14, NEW)  # same rows, another relationship
    p_old = true_p(z)
    est = m.cbpe_estimate(p_old, 0.35)
    assert est.f1 > f1_score(y_new, p_old >= 0.35) + 0.2  # it still expects the old F1


# ---- the gate ----------------------------------------------------------------------------


def test_paired_gate_deploys_a_model_of_the_new_regime():
    _, z, y, p_new = generate(1000, 15, NEW)
    gate = m.paired_gate(y, p_new, true_p(z), 0.4, 0.4, 0.05, seed=0)
    assert gate.deploy and gate.logloss.high < 0 and gate.roc_auc.low > 0
    assert gate.f1_candidate > gate.f1_deployed and gate.n == 1000
    assert "log-loss" in gate.reason


def test_paired_gate_refuses_an_equal_or_worse_candidate():
    _, z, y, p = generate(1000, 16)
    same = m.paired_gate(y, p, p, 0.4, 0.4, 0.05)
    assert not same.deploy and same.logloss.effect == 0
    worse = m.paired_gate(y, np.clip(p + 0.2, 0, 1), p, 0.4, 0.4, 0.05)
    assert not worse.deploy and worse.logloss.effect > 0


# ---- thresholds and helpers --------------------------------------------------------------


def test_best_threshold_known_values():
    cut, f1 = m.best_threshold([1, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.1])
    assert cut == pytest.approx(0.35) and f1 == pytest.approx(6 / 7)
    cut, f1 = m.best_threshold([1, 0, 0], [0.5, 0.5, 0.2])  # a tie cannot be split
    assert cut == pytest.approx(0.35) and f1 == pytest.approx(2 / 3)


def test_best_threshold_is_the_best_f1_of_all_cut_offs():
    _, _, y, p = generate(500, 17)
    cut, f1 = m.best_threshold(y, p)
    assert f1 == pytest.approx(f1_score(y, p >= cut))
    assert f1 >= max(f1_score(y, p >= t) for t in np.unique(p)) - 1e-12


def test_best_threshold_with_weights_ignores_zero_weight_rows():
    """Rows weighted 0 do not count; weight 2 counts a row twice."""
    _, _, y, p = generate(400, 19)
    w = np.r_[np.zeros(200), np.ones(200)]
    assert m.best_threshold(y, p, w) == pytest.approx(m.best_threshold(y[200:], p[200:]))
    doubled = m.best_threshold(np.r_[y, y[:100]], np.r_[p, p[:100]])
    assert m.best_threshold(y, p, np.r_[np.full(100, 2.0), np.ones(300)]) == pytest.approx(doubled)


def test_roc_auc_matches_scikit_learn():
    _, _, y, p = generate(500, 18)
    assert m.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert np.isnan(m.roc_auc([1, 1], [0.2, 0.3]))


def test_empty_and_single_row_inputs_give_answers_not_errors():
    """No rows, or one: no verdict, no exception (the caller may judge nothing)."""
    assert m.cross_fitted_probabilities(np.zeros((1, 2)), [1], fit_lr).tolist() == [0.5]
    assert not m.paired_logloss_test([], [], []).verdict
    assert not m.calibration_test([], []).verdict
    assert m.cbpe_estimate([], 0.5).n == 0
    assert m.binned_chi_square([1.0], [0.5, 0.5], []).p_value == 1.0


def test_verdict_text_and_dict_name_the_numbers():
    v = m.Verdict("log-loss deployed - refit", 500, 0.03, 0.01, 0.05, 0.002, True)
    assert "n 500" in v.text() and "[0.01, 0.05]" in v.text() and v.as_dict()["verdict"]
