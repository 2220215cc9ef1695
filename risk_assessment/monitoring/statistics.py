"""Monitoring statistics: pure functions that decide whether the world has changed.

Each function takes arrays (or a frame and a stored profile) and returns a small frozen
record saying what was compared, on how many rows, the effect, its interval and/or
p-value, and the verdict. Nothing here reads or writes files; fullprocess.py orchestrates.

- cross_fitted_probabilities: out-of-fold probabilities of a model refit on a batch
- paired_logloss_test: would a model refit on the batch predict it better? (detection)
- calibration_test: observed vs predicted exit count (prior shift / calibration)
- psi, binned_chi_square, data_drift_verdict: inputs against the training profile
- cbpe_estimate: label-free expected F1 from calibrated probabilities
- paired_gate: candidate vs deployed on a holdout, paired bootstrap
- best_threshold: the F1-optimal cut-off
- model_drift_decision, retrain_decision, gate_decision: the pipeline's decisions from them

The records returned (Verdict, DataDrift, Estimate, GateResult) are in verdicts.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from risk_assessment.monitoring.verdicts import (
    DataDrift,
    Estimate,
    FeatureDrift,
    GateResult,
    Verdict,
)

EPS = 1e-15  # probabilities clipped to [EPS, 1 - EPS] in the log-loss, as scikit-learn does
PSI_FLOOR = 1e-4  # empty bins are floored to this share in PSI and in chi-square expectations
BOOT_CELLS = 2_000_000  # bootstrap resamples are drawn in chunks of about this many cells


# ---- helpers -----------------------------------------------------------------------------


def _rows(X, idx: np.ndarray):
    """Rows idx of an array or a DataFrame."""
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def row_logloss(y, p) -> np.ndarray:
    """Per-row log-loss of probabilities p for labels y."""
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    y = np.asarray(y, dtype=float)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def f1_at(y, p, threshold: float) -> float:
    """F1 of predicting 1 when p >= threshold (0.0 when undefined)."""
    y, pred = np.asarray(y), np.asarray(p) >= threshold
    tp = np.sum(pred & (y == 1))
    denom = pred.sum() + (y == 1).sum()
    return float(2 * tp / denom) if denom else 0.0


def roc_auc(y, p) -> float:
    """ROC AUC by the rank (Mann-Whitney) formula; nan with a single class."""
    y = np.asarray(y)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# ---- detection ---------------------------------------------------------------------------


def cross_fitted_probabilities(
    X, y, fit: Callable[[Any, np.ndarray], Any], folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold P(y=1) of a model refit on the batch: no row is scored by a model
    trained on it. fit(X_train, y_train) returns a fitted classifier. Folds are
    stratified when each class has at least `folds` rows; a training fold holding one
    class predicts that fold's exit rate."""
    y = np.asarray(y).astype(int)
    n = len(y)
    if n < 2:  # nothing to train on without the row itself: no opinion
        return np.full(n, 0.5)
    folds = max(2, min(folds, n))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=int)
    if min(np.bincount(y, minlength=2)) >= folds:  # stratified: deal each class round-robin
        for cls in (0, 1):
            idx = rng.permutation(np.flatnonzero(y == cls))
            fold_of[idx] = np.arange(len(idx)) % folds
    else:
        fold_of[rng.permutation(n)] = np.arange(n) % folds
    out = np.empty(n, dtype=float)
    for k in range(folds):
        test, train = fold_of == k, fold_of != k
        if not test.any():
            continue
        if len(np.unique(y[train])) < 2:
            out[test] = y[train].mean()
            continue
        model = fit(_rows(X, np.flatnonzero(train)), y[train])
        out[test] = model.predict_proba(_rows(X, np.flatnonzero(test)))[:, 1]
    return out


def paired_logloss_test(y, p_deployed, p_refit, alpha: float = 0.05) -> Verdict:
    """One-sided paired t-test that the refit predicts the batch better than the deployed
    model: effect = mean per-row log-loss (deployed - refit), > 0 when the refit is
    better. The interval is two-sided at 1 - 2 alpha, so its lower bound is the
    one-sided bound: verdict (drift) exactly when low > 0, i.e. p < alpha."""
    d = row_logloss(y, p_deployed) - row_logloss(y, p_refit)
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if se == 0.0:
        p = 0.0 if mean > 0 else 1.0
        low = high = mean
    else:
        p = float(stats.t.sf(mean / se, n - 1))
        half = float(stats.t.ppf(1 - alpha, n - 1)) * se
        low, high = mean - half, mean + half
    return Verdict("log-loss deployed - refit", n, mean, low, high, p, bool(p < alpha and mean > 0))


def calibration_test(y, p, alpha: float = 0.05) -> Verdict:
    """Two-sided z-test of the observed exit count against the predicted one (sum p,
    variance sum p(1-p)): a prior shift or miscalibration. Effect = observed - predicted
    exit rate, with its 1 - alpha interval."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    diff = float(y.sum() - p.sum())
    sd = math.sqrt(float(np.sum(p * (1 - p))))
    if n == 0 or sd == 0.0:
        return Verdict("exit rate observed - predicted", n, diff / max(n, 1), p_value=None)
    z = diff / sd
    pval = float(2 * stats.norm.sf(abs(z)))
    half = float(stats.norm.ppf(1 - alpha / 2)) * sd / n
    rate = diff / n
    return Verdict(
        "exit rate observed - predicted", n, rate, rate - half, rate + half, pval, pval < alpha
    )


# ---- data drift --------------------------------------------------------------------------


def psi(expected_shares, actual_shares, floor: float = PSI_FLOOR) -> float:
    """Population stability index between two sets of bin shares (empty bins floored)."""
    e = np.clip(np.asarray(expected_shares, dtype=float), floor, None)
    a = np.clip(np.asarray(actual_shares, dtype=float), floor, None)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_counts(edges, values, bins: int) -> np.ndarray:
    """Counts of values in the bins delimited by edges (right-closed, as the profile)."""
    idx = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float), "right")
    return np.bincount(idx, minlength=bins)


def binned_chi_square(
    edges, shares, values, reference_rows: int | None = None, alpha: float = 0.05
) -> Verdict:
    """Chi-square test of a batch against stored training bins; size-aware, unlike PSI.

    Without reference_rows the shares are taken as exact (goodness of fit); with it,
    the training counts (shares * rows) and the batch form a 2 x k table (homogeneity),
    which also allows for the reference's own sampling noise. Effect: Cohen's w."""
    shares = np.clip(np.asarray(shares, dtype=float), PSI_FLOOR, None)
    shares = shares / shares.sum()
    observed = bin_counts(edges, values, len(shares))
    n = int(observed.sum())
    if n == 0 or len(shares) < 2:
        return Verdict("binned chi-square", n, 0.0, p_value=1.0)
    if reference_rows:
        table = np.vstack([shares * reference_rows, observed])
        stat, pval, _, _ = stats.chi2_contingency(table, correction=False)
    else:
        stat, pval = stats.chisquare(observed, shares * n)
    return Verdict(
        "binned chi-square", n, math.sqrt(stat / n), p_value=float(pval), verdict=pval < alpha
    )


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def data_drift_verdict(
    profile: dict[str, Any], batch_frame, alpha: float = 0.05, reference_rows: int | None = None
) -> DataDrift:
    """Each profiled feature of the batch against its training bins: chi-square p-value
    (Holm-adjusted across features), PSI beside it. Dataset drift: any feature left
    significant after the adjustment."""
    names = list(profile)
    tests = [
        binned_chi_square(
            profile[f]["edges"], profile[f]["shares"], batch_frame[f], reference_rows, alpha
        )
        for f in names
    ]
    adjusted = holm([t.p_value for t in tests])
    features = []
    for f, t, padj in zip(names, tests, adjusted, strict=True):
        shares = bin_counts(profile[f]["edges"], batch_frame[f], len(profile[f]["shares"]))
        value = psi(profile[f]["shares"], shares / max(t.n, 1))
        features.append(FeatureDrift(f, value, t, float(padj), bool(padj < alpha)))
    return DataDrift(len(batch_frame), tuple(features), any(f.drift for f in features))


# ---- label-free estimate -----------------------------------------------------------------


def cbpe_estimate(p, threshold: float, draws: int = 500, seed: int = 0) -> Estimate:
    """Expected F1, precision and recall at the cut-off if the probabilities are right
    (confidence-based performance estimation, as NannyML's CBPE), with a 95% interval
    from labels simulated as Bernoulli(p). It sees shifts in the inputs only: a change in
    how the features relate to exiting (concept drift) leaves p, and so this, unchanged."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return Estimate(0, float(threshold), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pred = p >= threshold
    tp, fp, fn = p[pred].sum(), (1 - p[pred]).sum(), p[~pred].sum()
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0
    rng = np.random.default_rng(seed)
    sims = []
    chunk = max(1, BOOT_CELLS // max(len(p), 1))
    for start in range(0, draws, chunk):
        y = rng.random((min(chunk, draws - start), len(p))) < p
        s_tp = (y & pred).sum(axis=1)
        denom = pred.sum() + y.sum(axis=1)
        sims.append(np.where(denom > 0, 2 * s_tp / np.maximum(denom, 1), 0.0))
    sims = np.concatenate(sims)
    low, high = np.quantile(sims, [0.025, 0.975])
    return Estimate(
        n=len(p),
        threshold=float(threshold),
        f1=float(f1),
        f1_low=float(low),
        f1_high=float(high),
        precision=float(tp / pred.sum()) if pred.any() else 0.0,
        recall=float(tp / p.sum()) if p.sum() > 0 else 0.0,
        expected_exit_rate=float(p.mean()) if len(p) else 0.0,
    )


# ---- the gate ----------------------------------------------------------------------------


def bootstrap_stats(y, p_c, p_d, t_c: float, t_d: float, n_boot: int, seed: int) -> np.ndarray:
    """Paired bootstrap draws of (log-loss diff, AUC diff, F1 diff), candidate - deployed."""
    y, p_c, p_d = np.asarray(y), np.asarray(p_c, dtype=float), np.asarray(p_d, dtype=float)
    ll = row_logloss(y, p_c) - row_logloss(y, p_d)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, 3))
    for b in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        out[b] = (
            ll[i].mean(),
            roc_auc(y[i], p_c[i]) - roc_auc(y[i], p_d[i]),
            f1_at(y[i], p_c[i], t_c) - f1_at(y[i], p_d[i], t_d),
        )
    return out


def paired_gate(
    y, p_candidate, p_deployed, threshold_candidate: float, threshold_deployed: float,
    alpha: float = 0.05, seed: int = 0, n_boot: int = 500,
) -> GateResult:  # fmt: skip
    """Compare candidate and deployed on the same holdout rows (paired bootstrap, 1 - 2
    alpha intervals on candidate - deployed). Deploy when the candidate's log-loss is
    lower and the interval's upper bound is below 0 (one-sided test at alpha)."""
    y = np.asarray(y)
    n = len(y)
    ll = float(np.mean(row_logloss(y, p_candidate) - row_logloss(y, p_deployed)))
    auc = roc_auc(y, p_candidate) - roc_auc(y, p_deployed)
    f1_c, f1_d = (
        f1_at(y, p_candidate, threshold_candidate),
        f1_at(y, p_deployed, threshold_deployed),
    )
    draws = bootstrap_stats(
        y, p_candidate, p_deployed, threshold_candidate, threshold_deployed, n_boot, seed
    )
    lo, hi = np.nanquantile(draws, [alpha, 1 - alpha], axis=0)
    better = ll < 0 and hi[0] < 0
    reason = (
        f"holdout log-loss candidate - deployed {ll:+.4f} [{lo[0]:+.4f}, {hi[0]:+.4f}] on {n} rows"
        f": {'better' if better else 'not shown better'} at alpha {alpha}"
    )
    return GateResult(
        n=n,
        logloss=Verdict("log-loss candidate - deployed", n, ll, lo[0], hi[0], None, better),
        roc_auc=Verdict("ROC AUC candidate - deployed", n, auc, lo[1], hi[1], None, lo[1] > 0),
        f1=Verdict("F1 candidate - deployed", n, f1_c - f1_d, lo[2], hi[2], None, lo[2] > 0),
        f1_candidate=f1_c,
        f1_deployed=f1_d,
        deploy=bool(better),
        reason=reason,
    )


def best_threshold(y, p, sample_weight=None) -> tuple[float, float]:
    """(cut-off, F1) maximising F1 (row-weighted if sample_weight) of predicting 1 when
    p >= cut-off; the cut-off is the midpoint between the last score taken and the next."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    y, p, w = y[w > 0], p[w > 0], w[w > 0]  # a row weighted 0 is not there
    if len(y) == 0 or np.sum(w * y) == 0:
        return 0.5, 0.0
    order = np.argsort(-p, kind="stable")
    ps, ys, ws = p[order], y[order], w[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # last row of each group of equal scores
    tp = np.cumsum(ws * ys)[last]
    taken = np.cumsum(ws)[last]
    f1 = 2 * tp / (taken + np.sum(ws * ys))
    best = int(np.argmax(f1))
    cut = ps[last][best]
    below = ps[last][best + 1] if best + 1 < last.sum() else cut
    return float((cut + below) / 2 if below < cut else cut), float(f1[best])


# ---- decisions --------------------------------------------------------------------------


def model_drift_decision(
    batch_rows: int,
    batch_f1: float,
    interval: tuple[float, float],
    threshold: float,
    settings: dict[str, Any],
    positives: int | None = None,
) -> tuple[bool | None, str]:
    """The original F1 rules: (drift?, why); None when the batch cannot say (too small,
    or without any exit: F1 undefined)."""
    if batch_rows < settings["min_batch_rows"]:
        return None, (
            f"batch of {batch_rows} rows is below model_drift.min_batch_rows "
            f"({settings['min_batch_rows']}): too noisy to call drift"
        )
    if positives == 0:
        return None, "batch has no exits: F1 is undefined, drift not judged"
    low, high = interval
    if settings["require_significance"]:
        drift = high < threshold
        how = f"interval [{low:.4f}, {high:.4f}] {'below' if drift else 'reaches'}"
    else:
        drift = batch_f1 < threshold
        how = f"F1 {batch_f1:.4f} {'below' if drift else 'not below'}"
    return drift, f"batch {how} threshold {threshold:.4f} ({settings['rule']} rule)"


def retrain_decision(
    model_drift: bool | None, data_drift: bool | None, has_deployment: bool, data_retrains: bool
) -> tuple[bool, str]:
    """(retrain?, why) from the verdicts. Data drift alone retrains only when configured."""
    if not has_deployment:
        return True, "no deployed model yet"
    if model_drift:
        return True, "model drift"
    if data_drift and data_retrains:
        return True, "data drift (data_drift.triggers_retraining)"
    return False, "no model drift" + (" (data drift reported only)" if data_drift else "")


def gate_decision(new_f1: float, deployed_f1_now: float | None, force: bool) -> tuple[bool, str]:
    """The fallback gate on the test data (when the batch has no usable holdout): the new
    model must be no worse on the same evaluation data."""
    if deployed_f1_now is None:
        return True, "first deployment"
    if new_f1 >= deployed_f1_now:
        return True, f"new F1 {new_f1:.4f} >= deployed {deployed_f1_now:.4f} on the test data"
    if force:
        return True, f"forced (deployment.force) despite F1 {new_f1:.4f} < {deployed_f1_now:.4f}"
    return False, f"new F1 {new_f1:.4f} < deployed {deployed_f1_now:.4f} on the test data"
